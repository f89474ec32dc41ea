//! agentdeploy: ship a Strands-style Python agent to AWS Lambda in one command.

use std::process::ExitCode;

use clap::Parser;

/// Whether stdout was closed when the process started (`>&-`): Rust's runtime then opens
/// /dev/null in its place before `main`, so only a check that runs earlier can tell.
static STDOUT_CLOSED_AT_START: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl on a descriptor number reads the descriptor table only.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED_AT_START.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

// Runs as the binary is loaded, before Rust's runtime reopens closed standard descriptors.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

fn main() -> ExitCode {
    if STDOUT_CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed) {
        agentdeploy::output::mark_stdout_closed();
    }
    // The build-time sandbox's launcher is agentdeploy itself, and must start before any thread.
    if let Some(code) = agentdeploy::sandbox::run_if_launcher() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::from(1);
        }
    };
    // Every code agentdeploy uses (reference §8: 0-6, 130) fits; anything else would be a bug.
    ExitCode::from(u8::try_from(runtime.block_on(run())).unwrap_or(1))
}

async fn run() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match agentdeploy::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return agentdeploy::output::print_parse_error(&err, &args),
    };
    agentdeploy::logging::init(&cli.global);
    agentdeploy::orchestrate::run(cli).await
}
