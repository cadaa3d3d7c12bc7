//! The vocabulary table (`ir/vocabulary.rs`) against the code that reads it and the files
//! that must list it.

use crate::ir::vocabulary::{self, Lowering, FUNCTIONS, METHODS, SCALAR_METHODS};
use crate::ir::{Graph, Op};
use crate::shape::{Dim, Shape, Ty};

#[test]
fn functions_are_in_the_order_of_their_variants() {
    for (i, f) in FUNCTIONS.iter().enumerate() {
        assert_eq!(f.func as usize, i, "{:?} is out of place", f.func);
        assert!(std::ptr::eq(vocabulary::function_of(f.func), f));
    }
    // The last variant closes the table: none is missing.
    assert_eq!(crate::ir::Func::Softplus as usize + 1, FUNCTIONS.len());
}

#[test]
fn every_user_function_is_found_by_its_method_name() {
    for f in FUNCTIONS {
        if let Some(name) = f.rust {
            assert_eq!(vocabulary::function_named(name), Some(f.func));
            assert_eq!(f.func.method(), name);
        }
    }
}

/// A graph with one parameter `a` of type `ty`.
fn with_param(ty: Ty) -> (Graph, crate::ir::NodeId) {
    let mut g = Graph::default();
    g.params.push("a".into());
    g.variables.push(false);
    let a = g.node(Op::Param(0), vec![], ty);
    (g, a)
}

#[test]
fn the_printer_prints_the_tables_names() {
    // A scalar reduction of a matrix `a`, and a scalar function of a scalar `a`.
    for m in METHODS {
        let Lowering::ScalarOf(op) = &m.lowering else {
            continue;
        };
        let (mut g, a) = with_param(Ty::Matrix(Shape::new(Dim::Fixed(3), Dim::Fixed(2))));
        let n = g.node(op.clone(), vec![a], Ty::Scalar);
        assert_eq!(crate::pretty::node_text(&g, n), m.printed, "`{}`", m.name);
    }
    let mut wrong = Vec::new();
    for f in FUNCTIONS {
        let (mut g, a) = with_param(Ty::Scalar);
        let n = g.node(Op::Elem(f.func), vec![a], Ty::Scalar);
        let printed = crate::pretty::node_text(&g, n);
        if printed != f.printed {
            wrong.push(format!(
                "{:?}: the table says `{}`, the printer `{printed}`",
                f.func, f.printed
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_fuzz_dictionary_lists_the_vocabulary() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/expand.dict");
    let dict = std::fs::read_to_string(path).expect("fuzz/expand.dict");
    let missing: Vec<String> = METHODS
        .iter()
        .chain(SCALAR_METHODS)
        .map(|m| m.example.to_string())
        .chain(
            FUNCTIONS
                .iter()
                .filter_map(|f| f.rust)
                .map(|n| format!(".{n}()")),
        )
        .filter(|e| !dict.contains(&format!("\"{e}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "add these lines to fuzz/expand.dict:\n{}",
        missing
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
