//! Compile-fail cases: each mistake a user can make, and the message it gets. One `#[test]` for
//! all of them, so that trybuild builds its project once.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
}
