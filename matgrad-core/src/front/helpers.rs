//! `#[differentiable]` helpers, read in their callers: a call of a helper on the active path is
//! replaced, before lowering, by the helper's body in a block that binds its parameters to the
//! arguments (`{ let se_x: &DVector<f64> = &a; .. }`), its names renamed so that they cannot
//! capture the caller's. The caller's graph then holds the helper's operations: derivatives of
//! every order, Jacobians and formulas flow through it as through the caller's own code.
//!
//! The helper's tokens reach the caller through a `macro_rules!` callback that
//! `#[differentiable]` defines beside the helper (`expand::helper`): a caller that calls a
//! helper it has not read yet expands to a call of that macro, which hands the tokens to
//! `matgrad::__derive_with`, which expands the caller again with them.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::format_ident;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Ident, ItemFn, Pat, Path};

/// A helper as a caller names it (`kernels::se`), with its item.
#[derive(Clone)]
pub struct Helper {
    pub path: Path,
    pub item: ItemFn,
}

/// How deeply helpers may call helpers before matgrad stops reading (a recursive helper).
const MAX_DEPTH: usize = 16;

/// The path of the macro `#[differentiable]` defines beside the helper at `path`.
pub fn macro_path(path: &Path) -> Path {
    let mut p = path.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!(
            "add_matgrad_differentiable_to_{}",
            last.ident,
            span = last.ident.span()
        );
        last.arguments = syn::PathArguments::None;
    }
    p
}

/// Whether a call's path names the helper (as written at the call site, generic arguments
/// aside).
fn same_path(a: &Path, b: &Path) -> bool {
    a.segments.len() == b.segments.len()
        && a.leading_colon.is_some() == b.leading_colon.is_some()
        && a.segments
            .iter()
            .zip(&b.segments)
            .all(|(x, y)| x.ident == y.ident)
}

/// The block with every call of a known helper replaced by the helper's body.
pub fn inline(block: &Block, helpers: &[Helper]) -> Block {
    let mut b = block.clone();
    let mut inliner = Inliner {
        helpers,
        calls: HashMap::new(),
        depth: 0,
    };
    inliner.visit_block_mut(&mut b);
    b
}

struct Inliner<'a> {
    helpers: &'a [Helper],
    /// How many calls of each helper were read, for fresh names.
    calls: HashMap<String, usize>,
    depth: usize,
}

impl VisitMut for Inliner<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        visit_mut::visit_expr_mut(self, e);
        let Expr::Call(call) = e else { return };
        let Expr::Path(p) = &*call.func else { return };
        let Some(helper) = self.helpers.iter().find(|h| same_path(&h.path, &p.path)) else {
            return;
        };
        if self.depth >= MAX_DEPTH || call.args.len() != helper.item.sig.inputs.len() {
            return;
        }
        let mut inlined = self.body_of(helper, call.args.iter().cloned().collect());
        self.depth += 1;
        self.visit_expr_mut(&mut inlined);
        self.depth -= 1;
        *e = inlined;
    }
}

impl Inliner<'_> {
    /// `{ let se_x: T = arg; ..; body }` with the helper's names renamed.
    fn body_of(&mut self, helper: &Helper, args: Vec<Expr>) -> Expr {
        let name = helper.item.sig.ident.to_string();
        let n = self.calls.entry(name.clone()).or_insert(0);
        *n += 1;
        let prefix = if *n == 1 {
            format!("{name}_")
        } else {
            format!("{name}{n}_")
        };
        let mut bound = Bound::default();
        for input in &helper.item.sig.inputs {
            if let syn::FnArg::Typed(pt) = input {
                bound.visit_pat(&pt.pat);
            }
        }
        let params = bound.names.len();
        bound.visit_block(&helper.item.block);
        let rebound: Vec<String> = bound.names[params..].to_vec();
        // A parameter given a name or a literal (`y`, `&y`, `0.5`) that the body does not bind
        // again stands for it directly: the caller's formula and shape checks see `y` itself.
        let mut substitutes: HashMap<String, Expr> = HashMap::new();
        for (input, arg) in helper.item.sig.inputs.iter().zip(&args) {
            let syn::FnArg::Typed(pt) = input else {
                continue;
            };
            if let Pat::Ident(pi) = &*pt.pat {
                let name = pi.ident.to_string();
                if is_simple(arg) && !rebound.contains(&name) && pi.subpat.is_none() {
                    substitutes.insert(name, syn::parse_quote!((#arg)));
                }
            }
        }
        let renames: HashMap<String, Ident> = bound
            .names
            .into_iter()
            .filter(|n| !substitutes.contains_key(n))
            .map(|n| {
                let fresh = Ident::new(&format!("{prefix}{n}"), Span::call_site());
                (n, fresh)
            })
            .collect();
        // Paths of helper calls inside are relative to the helper's module, as the caller names it.
        let module: Vec<Ident> = helper
            .path
            .segments
            .iter()
            .take(helper.path.segments.len().saturating_sub(1))
            .map(|s| s.ident.clone())
            .collect();
        let mut renamer = Renamer {
            renames: &renames,
            substitutes: &substitutes,
            module: &module,
        };
        let mut body = helper.item.block.clone();
        renamer.visit_block_mut(&mut body);
        let mut stmts: Vec<syn::Stmt> = Vec::new();
        for (input, arg) in helper.item.sig.inputs.iter().zip(args) {
            let syn::FnArg::Typed(pt) = input else {
                continue;
            };
            if let Pat::Ident(pi) = &*pt.pat {
                if substitutes.contains_key(&pi.ident.to_string()) {
                    continue;
                }
            }
            let mut pat = (*pt.pat).clone();
            renamer.visit_pat_mut(&mut pat);
            let ty = &pt.ty;
            stmts.push(syn::parse_quote!(let #pat: #ty = #arg;));
        }
        stmts.extend(body.stmts);
        Expr::Block(syn::ExprBlock {
            attrs: Vec::new(),
            label: None,
            block: Block {
                brace_token: Default::default(),
                stmts,
            },
        })
    }
}

/// A name or a literal, possibly borrowed or parenthesised: an argument that can stand for a
/// parameter wherever the body names it.
fn is_simple(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => is_simple(&p.expr),
        Expr::Reference(r) if r.mutability.is_none() => is_simple(&r.expr),
        Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_some(),
        Expr::Lit(_) => true,
        _ => false,
    }
}

/// The names a helper binds: parameters, `let`s and closure parameters.
#[derive(Default)]
struct Bound {
    names: Vec<String>,
}

impl<'ast> syn::visit::Visit<'ast> for Bound {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        let name = p.ident.to_string();
        // A capitalised name in a pattern is a constant or a unit variant, not a binding.
        if !name.starts_with(char::is_uppercase) && !self.names.contains(&name) {
            self.names.push(name);
        }
        syn::visit::visit_pat_ident(self, p);
    }
}

impl Bound {
    fn visit_pat(&mut self, p: &Pat) {
        syn::visit::Visit::visit_pat(self, p);
    }
    fn visit_block(&mut self, b: &Block) {
        syn::visit::Visit::visit_block(self, b);
    }
}

/// Renames the helper's names, and puts the caller's path to the helper's module before the
/// helper calls inside it.
struct Renamer<'a> {
    renames: &'a HashMap<String, Ident>,
    /// Parameters that stand for the caller's argument, written in their place.
    substitutes: &'a HashMap<String, Expr>,
    module: &'a [Ident],
}

impl VisitMut for Renamer<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Path(p) = e {
            if let Some(id) = p.path.get_ident().filter(|_| p.qself.is_none()) {
                if let Some(arg) = self.substitutes.get(&id.to_string()) {
                    *e = arg.clone();
                    return;
                }
            }
        }
        visit_mut::visit_expr_mut(self, e);
    }

    fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
        if let Some(fresh) = self.renames.get(&p.ident.to_string()) {
            p.ident = Ident::new(&fresh.to_string(), p.ident.span());
        }
        visit_mut::visit_pat_ident_mut(self, p);
    }

    fn visit_expr_path_mut(&mut self, e: &mut syn::ExprPath) {
        if e.qself.is_none() && e.path.leading_colon.is_none() && e.path.segments.len() == 1 {
            let seg = &mut e.path.segments[0];
            if let Some(fresh) = self.renames.get(&seg.ident.to_string()) {
                seg.ident = Ident::new(&fresh.to_string(), seg.ident.span());
                return;
            }
        }
        visit_mut::visit_expr_path_mut(self, e);
    }

    fn visit_expr_call_mut(&mut self, c: &mut syn::ExprCall) {
        if let Expr::Path(p) = &mut *c.func {
            let single =
                p.qself.is_none() && p.path.leading_colon.is_none() && p.path.segments.len() == 1;
            let name = p.path.segments[0].ident.to_string();
            let local = self.renames.contains_key(&name);
            let function = name.starts_with(|c: char| c.is_lowercase() || c == '_');
            if single && !local && function && !self.module.is_empty() {
                let last = p.path.segments[0].clone();
                let mut segments: syn::punctuated::Punctuated<syn::PathSegment, syn::Token![::]> =
                    self.module
                        .iter()
                        .map(|m| syn::PathSegment::from(m.clone()))
                        .collect();
                segments.push(last);
                p.path.segments = segments;
            }
        }
        visit_mut::visit_expr_call_mut(self, c);
    }
}
