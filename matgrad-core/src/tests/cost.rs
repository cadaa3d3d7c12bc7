//! What the generated gradient costs, counted on the graph: the products it performs and their
//! shapes (issue 5: products ordered by shapes; the gradient of tr(Xᵏ) linear in k).

use proc_macro2::TokenStream;

use crate::ir::{NodeId, Op};
use crate::shape::Dim;
use crate::Derivation;

fn derive(attr: &str, item: &str) -> Derivation {
    let attr: TokenStream = attr.parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    match crate::derive(attr, item) {
        Ok(d) => d,
        Err(failure) => panic!("{}", failure.0),
    }
}

/// The matrix products the gradient computes beyond the function's own (nodes reachable from
/// the gradients that were built by differentiation), as (rows, inner, cols) "is a matrix" flags.
fn gradient_products(d: &Derivation) -> Vec<(bool, bool, bool)> {
    let g = &d.body.graph;
    let mut seen = vec![false; g.len()];
    let mut stack: Vec<NodeId> = d
        .gradient()
        .map_or(&[][..], |g| &g.nodes)
        .iter()
        .flatten()
        .copied()
        .collect();
    let mut out = Vec::new();
    while let Some(n) = stack.pop() {
        if seen[n.index()] {
            continue;
        }
        seen[n.index()] = true;
        stack.extend(g.args(n).iter().copied());
        if *g.op(n) == Op::MatMul && !g.is_primal(n) {
            let (a, b) = (
                g.shape(g.args(n)[0]).unwrap(),
                g.shape(g.args(n)[1]).unwrap(),
            );
            let big = |d: Dim| d != Dim::Fixed(1);
            out.push((big(a.rows), big(a.cols), big(b.cols)));
        }
    }
    out
}

#[test]
fn trace_of_power_gradient_is_linear_in_the_power() {
    for k in 2..=12 {
        let body = vec!["x"; k].join(" * ");
        let d = derive(
            "wrt = x",
            &format!("fn f(x: &DMatrix<f64>) -> f64 {{ ({body}).trace() }}"),
        );
        let products = gradient_products(&d).len();
        assert!(
            products <= 2 * k,
            "tr(x^{k}): {products} products in the gradient"
        );
    }
}

#[test]
fn inverse_adjoint_of_an_outer_product_is_quadratic() {
    // ∂(rᵀ S⁻¹ r)/∂S = −S⁻ᵀ r rᵀ S⁻ᵀ: computed as (S⁻ᵀ r)(rᵀ S⁻ᵀ), never as n×n·n×n products.
    let d = derive(
        "wrt = s",
        "fn f(s: &DMatrix<f64>, r: &DVector<f64>) -> f64 { (r.transpose() * s.clone().try_inverse().unwrap() * r)[(0, 0)] }",
    );
    let cubic = gradient_products(&d)
        .into_iter()
        .filter(|&(a, b, c)| a && b && c)
        .count();
    assert_eq!(cubic, 0, "matrix·matrix products in the gradient");
}

#[test]
fn least_squares_gradient_has_no_matrix_matrix_product() {
    let d = derive(
        "wrt = w",
        "fn f(x: &DMatrix<f64>, w: &DVector<f64>, y: &DVector<f64>) -> f64 { (x * w - y).norm_squared() }",
    );
    let products = gradient_products(&d);
    assert_eq!(products.len(), 1, "one product, xᵀ r");
    assert!(products.iter().all(|&(_, _, c)| !c));
}

#[test]
fn trace_quadratic_gradient_is_one_product() {
    // ∂tr(Wᵀ A W)/∂W = (A + Aᵀ) W: one product, as written by hand.
    let d = derive(
        "wrt = w",
        "fn f(w: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 { (w.transpose() * a * w).trace() }",
    );
    assert_eq!(
        gradient_products(&d).len(),
        1,
        "{:?}",
        d.gradient().map(|g| &g.formulas)
    );
}

fn batched_jacobian(item: &str) -> (Derivation, NodeId) {
    let attr: TokenStream = "wrt = x".parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    let d = match crate::derive_with(crate::attr::Macro::Jacobian, attr, item) {
        Ok(d) => d,
        Err(failure) => panic!("{}", failure.0),
    };
    let j = d
        .jacobian()
        .and_then(|l| l.batched.as_ref())
        .and_then(|b| b[0])
        .expect("a batched Jacobian");
    (d, j)
}

#[test]
fn jacobian_of_a_linear_map_is_the_matrix_itself() {
    // ∂(A x)/∂xᵀ = A: no product, no identity; the generated code copies A once.
    let (d, j) =
        batched_jacobian("fn f(a: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> { a * x }");
    assert_eq!(*d.body.graph.op(j), Op::Param(0));
}

#[test]
fn jacobian_of_an_entrywise_map_is_a_row_scaling() {
    // ∂ tanh(W x)/∂xᵀ = diag(1 − tanh²(W x)) W: one row scaling of W, no diag(·), no I.
    let (d, j) = batched_jacobian(
        "fn f(w: &DMatrix<f64>, x: &DVector<f64>) -> DVector<f64> { (w * x).map(|v| v.tanh()) }",
    );
    let g = &d.body.graph;
    assert_eq!(*g.op(j), Op::RowScale);
    assert_eq!(*g.op(g.args(j)[1]), Op::Param(0));
    let mut stack = vec![j];
    while let Some(n) = stack.pop() {
        assert!(
            !matches!(g.op(n), Op::Identity | Op::FromDiagonal | Op::Kron),
            "{:?} in the Jacobian",
            g.op(n)
        );
        stack.extend(g.args(n).iter().copied());
    }
}

#[test]
fn jacobians_of_matrix_linear_maps_are_their_kronecker_forms() {
    // ∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A: one Kronecker product (the mixed-product rule joins the
    // two factors), no identity built.
    let (d, j) = batched_jacobian(
        "fn f(a: &DMatrix<f64>, x: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> { a * x * b }",
    );
    let g = &d.body.graph;
    assert_eq!(*g.op(j), Op::Kron);
    assert_eq!(*g.op(g.args(j)[0]), Op::Transpose);
    assert_eq!(*g.op(g.args(j)[1]), Op::Param(0));
    // ∂vec(A X)/∂vec(X)ᵀ = I ⊗ A: emitted as a block fill.
    let (d, j) =
        batched_jacobian("fn f(a: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> { a * x }");
    let g = &d.body.graph;
    assert_eq!(*g.op(j), Op::Kron);
    assert_eq!(*g.op(g.args(j)[0]), Op::Identity);
    // ∂vec(Xᵀ)/∂vec(X)ᵀ = K, the commutation matrix, and nothing else.
    let (d, j) = batched_jacobian("fn f(x: &DMatrix<f64>) -> DMatrix<f64> { x.transpose() }");
    assert!(matches!(d.body.graph.op(j), Op::Commutation { .. }));
}

#[test]
fn a_bias_added_through_a_ones_vector_is_never_built() {
    // W X + b 1ᵀ (bias per row, samples as columns) and X W + 1 bᵀ: the ones-vector and the
    // broadcast matrix appear nowhere in the generated code; the bias is added column by
    // column, and its gradient is a row or column sum.
    for (item, sum) in [
        (
            "fn f(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>, y: &DMatrix<f64>) -> f64 { let ones = RowDVector::from_element(x.ncols(), 1.0); ((w * x + b * ones).map(|v| v.tanh()) - y).norm_squared() }",
            "column_sum",
        ),
        (
            "fn f(x: &DMatrix<f64>, w: &DMatrix<f64>, b: &DVector<f64>, y: &DMatrix<f64>) -> f64 { (x * w + DVector::from_element(x.nrows(), 1.0) * b.transpose() - y).norm_squared() }",
            "row_sum",
        ),
    ] {
        let attr: TokenStream = "wrt = (w, b)".parse().expect("attribute tokens");
        let code = crate::expand_gradient(attr, item.parse().expect("item tokens")).to_string();
        let grad = &code[code.find("fn f_grad").expect("f_grad")..];
        let grad = &grad[..grad.find("fn f_value_and_grad").unwrap_or(grad.len())];
        for built in ["from_fn_generic", "from_element_generic", "from_element"] {
            assert!(!grad.contains(built), "{built} in {grad}");
        }
        assert!(grad.contains(sum), "{sum} in {grad}");
    }
}

#[test]
fn a_block_of_a_row_of_the_identity_is_not_a_unit_row() {
    // Row 1 of I₃ is e₁ᵀ; its first entry alone is 0, not the 1×1 identity (found by the
    // randomized HVP test at 12,000 cases).
    use crate::shape::{Shape, Ty};
    let mut g = crate::ir::Graph::default();
    let three = Dim::Fixed(3);
    let eye = g.identity(Shape::new(three, three));
    let row = g.view(
        eye,
        crate::ir::Index::Lit(1),
        crate::ir::Index::Lit(0),
        Shape::new(Dim::Fixed(1), three),
    );
    assert!(matches!(g.op(row), Op::Scatter(..)));
    let corner = g.view(
        eye,
        crate::ir::Index::Lit(1),
        crate::ir::Index::Lit(0),
        Shape::new(Dim::Fixed(1), Dim::Fixed(1)),
    );
    let value = crate::eval::eval_node(&g, &[], corner).expect("evaluates");
    assert_eq!(value.entries(), vec![0.0]);
    assert_eq!(
        g.ty(corner),
        Ty::Matrix(Shape::new(Dim::Fixed(1), Dim::Fixed(1)))
    );
}
