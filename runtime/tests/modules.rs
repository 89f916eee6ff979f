//! CGI command modules written in WAT, so every edge of the CGI contract is
//! exercised without a toolchain: good and bad output, exit codes, timeouts
//! and memory limits of modules.

mod common;

use std::time::Duration;

use common::*;
use runtime::{Outcome, PreparedFunction, SandboxConfig};

/// A WASI command that writes `stdout` and then exits with `exit_code`.
fn cgi_module(stdout: &str, exit_code: i32) -> Vec<u8> {
    let escaped: String = stdout.bytes().map(|b| format!("\\{b:02x}")).collect();
    let len = stdout.len();
    wat::parse_str(format!(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write"
                (func $fd_write (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
            (memory (export "memory") 1)
            (data (i32.const 64) "{escaped}")
            (func (export "_start")
                (i32.store (i32.const 0) (i32.const 64))
                (i32.store (i32.const 4) (i32.const {len}))
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                (call $proc_exit (i32.const {exit_code}))))"#
    ))
    .expect("valid WAT")
}

async fn prepare_wat(wasm: Vec<u8>) -> PreparedFunction {
    runtime()
        .prepare(&wasm, &sha256_hex(&wasm))
        .await
        .expect("module prepares")
}

#[tokio::test]
async fn status_headers_and_body_from_stdout() {
    let module = prepare_wat(cgi_module(
        "Status: 201 Created\r\nContent-Type: text/plain\r\nX-Thing: yes\r\n\r\ncreated!",
        0,
    ))
    .await;
    let answer = answer(module.invoke(get("/"), SandboxConfig::default()).await).await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.headers["x-thing"], "yes");
    assert_eq!(answer.body, "created!");
    assert_eq!(answer.report.outcome, Outcome::Success);
    assert_eq!(answer.report.status_code, Some(201));
    assert_eq!(answer.report.bytes_out, 8);
}

#[tokio::test]
async fn output_without_headers_is_a_bad_response() {
    let module = prepare_wat(cgi_module("just some text\n", 0)).await;
    let report = failure(&module, get("/"), SandboxConfig::default()).await;
    let Outcome::BadResponse { message } = report.outcome else {
        panic!("expected a bad response, got {:?}", report.outcome);
    };
    assert!(message.contains("malformed CGI header line"), "{message}");
}

#[tokio::test]
async fn output_without_a_blank_line_is_a_bad_response() {
    let module = prepare_wat(cgi_module("Content-Type: text/plain\nbody right away", 0)).await;
    let report = failure(&module, get("/"), SandboxConfig::default()).await;
    let Outcome::BadResponse { message } = report.outcome else {
        panic!("expected a bad response, got {:?}", report.outcome);
    };
    assert!(message.contains("no blank line"), "{message}");
}

#[tokio::test]
async fn missing_content_type_is_a_bad_response() {
    let module = prepare_wat(cgi_module("X-Nothing: 1\n\nbody", 0)).await;
    let report = failure(&module, get("/"), SandboxConfig::default()).await;
    assert!(matches!(report.outcome, Outcome::BadResponse { .. }));
}

#[tokio::test]
async fn non_zero_exit_is_a_trap() {
    let module = prepare_wat(cgi_module("Content-Type: text/plain\n\nok", 3)).await;
    let report = failure(&module, get("/"), SandboxConfig::default()).await;
    assert_eq!(
        report.outcome,
        Outcome::Trap {
            message: "exited with code 3".into()
        }
    );
}

#[tokio::test]
async fn stdout_beyond_the_response_limit() {
    let module = prepare_wat(cgi_module("Content-Type: text/plain\n\n0123456789", 0)).await;
    let sandbox = SandboxConfig {
        max_response_body: 16,
        ..SandboxConfig::default()
    };
    let report = failure(&module, get("/"), sandbox).await;
    assert_eq!(report.outcome, Outcome::ResponseTooLarge);
}

#[tokio::test]
async fn spinning_module_times_out() {
    let wasm = wat::parse_str(r#"(module (func (export "_start") (loop (br 0))))"#).expect("WAT");
    let module = prepare_wat(wasm).await;
    let sandbox = SandboxConfig {
        timeout: Duration::from_millis(300),
        ..SandboxConfig::default()
    };
    let report = failure(&module, get("/"), sandbox).await;
    assert_eq!(report.outcome, Outcome::Timeout);
    assert!(
        report.duration < Duration::from_secs(1),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn memory_grow_beyond_the_limit_is_out_of_memory() {
    // Grows by 100 pages (6.4 MiB), and traps when refused like a libc would.
    let wasm = wat::parse_str(
        r#"(module
            (memory 1)
            (func (export "_start")
                (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1))
                    (then unreachable))))"#,
    )
    .expect("WAT");
    let module = prepare_wat(wasm).await;
    let sandbox = SandboxConfig {
        memory_limit_bytes: 1024 * 1024,
        ..SandboxConfig::default()
    };
    let report = failure(&module, get("/"), sandbox).await;
    assert_eq!(report.outcome, Outcome::OutOfMemory);
    assert_eq!(report.peak_memory_bytes, 64 * 1024);
}

#[tokio::test]
async fn module_with_unknown_imports_is_refused_at_prepare() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "secret_syscall" (func))
            (func (export "_start")))"#,
    )
    .expect("WAT");
    let error = runtime()
        .prepare(&wasm, &sha256_hex(&wasm))
        .await
        .err()
        .expect("unknown import must be refused");
    assert!(
        matches!(error, runtime::ValidationError::UnsupportedImport { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("secret_syscall"), "{error}");
}

#[tokio::test]
async fn invalid_code_is_refused_at_prepare() {
    // Structurally fine (so `validate` passes) but does not type-check.
    let wasm = wat::parse_str(r#"(module (func (export "_start") (result i32)))"#).expect("WAT");
    assert!(runtime::Runtime::validate(&wasm).is_ok());
    let error = runtime()
        .prepare(&wasm, &sha256_hex(&wasm))
        .await
        .err()
        .expect("invalid code must be refused");
    assert!(
        matches!(error, runtime::ValidationError::Invalid { .. }),
        "{error:?}"
    );
}
