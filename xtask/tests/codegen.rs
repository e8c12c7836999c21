//! The checked-in attribute module matches its table; a stale one is caught.
#![allow(clippy::unwrap_used)]

use std::fs;

#[test]
fn checked_in_code_is_up_to_date() {
    // Fails, naming `cargo xtask codegen`, when the table changed without a
    // regeneration (the file is rewritten so the fix is a commit).
    if let Err(e) = xtask::codegen::run_at(&xtask::root(), true) {
        panic!("{e}");
    }
}

#[test]
fn a_stale_module_is_rewritten_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("codegen")).unwrap();
    fs::create_dir_all(tmp.path().join("crates/core/src")).unwrap();
    let table = r#"{"attributes": [{"name": "gen_ai.request.model", "type": "string", "stability": "development", "description": "The model."}]}"#;
    fs::write(tmp.path().join(xtask::codegen::TABLE), table).unwrap();
    fs::write(tmp.path().join(xtask::codegen::OUTPUT), "// stale\n").unwrap();
    let e = xtask::codegen::run_at(tmp.path(), true).unwrap_err();
    assert!(e.contains("cargo xtask codegen"), "{e}");
    let now = fs::read_to_string(tmp.path().join(xtask::codegen::OUTPUT)).unwrap();
    assert!(now.starts_with("// @generated"));
    assert!(now.contains("pub const GEN_AI_REQUEST_MODEL: &str = \"gen_ai.request.model\";"));
    xtask::codegen::run_at(tmp.path(), true).unwrap();
}

#[test]
fn bad_tables_are_errors() {
    for (table, want) in [
        ("not json", "invalid JSON"),
        (
            r#"{"attributes": [{"name": "a.b", "type": "float", "stability": "stable", "description": "d"}]}"#,
            "unknown type",
        ),
        (
            r#"{"attributes": [{"name": "a.b", "type": "int", "stability": "stable"}]}"#,
            "no `description`",
        ),
        (
            r#"{"attributes": [{"name": "a.b", "type": "int", "stability": "stable", "description": "d"}, {"name": "a_b", "type": "int", "stability": "stable", "description": "d"}]}"#,
            "listed twice",
        ),
    ] {
        let e = xtask::codegen::generate(table).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
}
