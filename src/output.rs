//! The result of a run (reference §8): one struct, printed to stdout as a short human summary or as
//! exactly one JSON document. Progress and logs go to stderr elsewhere.

use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::error::Error;
use crate::exit_codes::Classified;

/// Writes one line of the result to stdout. A stdout closed early (`agentdeploy list | head`) is
/// not an error: the rest of the result is dropped quietly and the exit code stays the command's.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout_line(format_args!($($arg)*))
    };
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Nobody will read stdout (it was closed when the process started): nothing is written to it.
pub fn mark_stdout_closed() {
    STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether nobody reads stdout any more: a write to it failed, it is not open at all (`>&-`),
/// or its pipe's reader left (checked without writing): a command that would go on printing
/// (`logs --follow`) ends instead, even while it has nothing to print.
pub fn stdout_closed() -> bool {
    if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
        return true;
    }
    // SAFETY: fcntl and poll on fd 1 with a valid pollfd; neither keeps the pointer.
    unsafe {
        if libc::fcntl(1, libc::F_GETFD) == -1 {
            return true;
        }
        let mut fd = libc::pollfd {
            fd: 1,
            events: libc::POLLOUT,
            revents: 0,
        };
        libc::poll(&mut fd, 1, 0) == 1
            && fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    }
}

/// The one place that writes to stdout (through [`outln!`] and [`write_stdout_part`]): a failed
/// write (closed pipe or full disk: nobody is reading) stops all later ones, keeping the exit code.
fn write_stdout(write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if write(&mut out).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Text as it arrives (a streamed answer's deltas), no newline added.
pub fn write_stdout_part(text: &str) {
    write_stdout(|out| std::io::Write::write_all(out, text.as_bytes()));
}

pub fn write_stdout_line(args: std::fmt::Arguments<'_>) {
    write_stdout(|out| {
        std::io::Write::write_fmt(out, args)?;
        std::io::Write::write_all(out, b"\n")
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Planned,
    Deployed,
    Unchanged,
    Failed,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct BuildInfo {
    /// `native`, `container`, `cross-platform-pip`, or `none` (nothing was built).
    pub strategy: String,
    pub artifact_bytes: Option<u64>,
    pub cached: bool,
    /// The pinned dependency set came from the resolution cache (no pip resolution ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependencies_cached: Option<bool>,
    /// Who resolved the dependency set: `cache` (an earlier run), `sam-build` (the native build
    /// of the requirements as given) or `pip` (pip's resolution for the Lambda platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<crate::build_report::ResolvedBy>,
    /// What was compiled to bytecode for cold starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytecode: Option<crate::build_report::Bytecode>,
    /// The cold start to expect from what was built (the plan's is from the requirements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<crate::build_report::ColdStart>,
    /// The build cache shared through the artifact bucket: `hit` (the dependencies came from
    /// it), `stored` (built here and shared), `local` or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_cache: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    pub kind: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ErrorInfo {
    pub fn from_error(err: &Error) -> Self {
        ErrorInfo {
            kind: err.kind().to_string(),
            message: err.to_string(),
            hint: err.hint().map(str::to_string),
        }
    }
}

/// How to call the endpoint, for the summary and the JSON.
/// A command's result. Every command returns one and `emit` writes it: the one JSON document
/// under `-o json`, else its text lines. Nothing is read back out of JSON to make the text.
pub trait CommandResult: Serialize {
    fn text_lines(&self) -> Vec<String>;
}

pub fn emit(result: &impl CommandResult, format: OutputFormat) {
    match format {
        OutputFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(result).unwrap_or_default()
        ),
        OutputFormat::Text => {
            for line in result.text_lines() {
                crate::outln!("{line}");
            }
        }
    }
}

/// A deployment's plan as the result shows it: the JSON document, and the labelled lines of the
/// text report (the target makes both from its typed plan; nothing is read back out of JSON).
#[derive(Debug, Clone)]
pub struct PlanView {
    pub document: Value,
    pub lines: Vec<(&'static str, String)>,
}

impl Serialize for PlanView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document.serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointAccess {
    pub auth: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    pub how_to_call: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub status: Status,
    pub function_name: String,
    pub function_arn: Option<String>,
    pub endpoint: Option<String>,
    pub endpoint_kind: String,
    pub stack_name: String,
    pub region: Option<String>,
    pub account: Option<String>,
    pub runtime: String,
    pub architecture: String,
    pub memory: u32,
    pub timeout: u32,
    pub build: BuildInfo,
    pub duration_ms: u64,
    /// Where `duration_ms` went (deploys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<crate::timings::Breakdown>,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<EndpointAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// For `--kind code-interpreter`: the MCP client configuration that uses the function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_client_config: Option<Value>,
    /// Plan details (dry-run and deploy): what would be / was deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanView>,
    /// `--smoke`: how the new version answered its cases before `live` moved (or stayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke: Option<SmokeReport>,
    #[serde(skip)]
    pub exit_code: i32,
}

impl DeployReport {
    pub fn fail(&mut self, err: &Error) {
        self.status = Status::Failed;
        self.error = Some(ErrorInfo::from_error(err));
        self.exit_code = err.exit_code();
    }
}

/// Smoke cases' results (reference §7): in a deploy's report and from `agentdeploy test`.
/// How one case went.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    /// The status the endpoint would have answered with.
    pub status: u16,
    pub duration_ms: u64,
    /// What did not hold, one line each (empty when passed).
    pub failures: Vec<String>,
}

/// How a set of cases went against one version.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct SmokeReport {
    pub file: String,
    /// The version the cases called (`live` for `agentdeploy test`).
    pub version: String,
    pub passed: bool,
    pub cases: Vec<CaseResult>,
}

impl SmokeReport {
    pub fn failed_count(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }

    /// JUnit XML, as CI systems read test results.
    pub fn junit(&self, suite: &str) -> String {
        let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
        let total: u64 = self.cases.iter().map(|c| c.duration_ms).sum();
        let mut xml = String::from(crate::files::RESULTS_FILE_START);
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">\n",
            xml_escape(suite),
            self.cases.len(),
            self.failed_count(),
            seconds(total)
        ));
        for case in &self.cases {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                xml_escape(suite),
                xml_escape(&case.name),
                seconds(case.duration_ms)
            ));
            if case.passed {
                xml.push_str("/>\n");
            } else {
                let text = case.failures.join("\n");
                xml.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml_escape(case.failures.first().map(String::as_str).unwrap_or("")),
                    xml_escape(&text)
                ));
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Prints one report or a fleet to stdout in the chosen format.
pub fn print_reports(reports: &[DeployReport], format: OutputFormat, fleet: bool) {
    match format {
        OutputFormat::Json => {
            let doc = if fleet {
                serde_json::json!({ "deployments": reports })
            } else {
                serde_json::to_value(&reports[0]).unwrap_or(Value::Null)
            };
            crate::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => {
            if fleet {
                print_table(reports);
            } else if let Some(report) = reports.first() {
                print_text(report);
            }
        }
    }
}

/// One labelled line per fact of the report, in the order a reader wants them.
fn print_text(r: &DeployReport) {
    print_headline(r);
    let line = |label: &str, value: &str| crate::outln!("  {label:<13}{value}");
    line("stack", &r.stack_name);
    if let Some(arn) = &r.function_arn {
        line("function", arn);
    }
    if let Some(endpoint) = &r.endpoint {
        line("endpoint", &format!("{endpoint} ({})", r.endpoint_kind));
    }
    line(
        "runtime",
        &format!(
            "{} {} {} MB {} s",
            r.runtime, r.architecture, r.memory, r.timeout
        ),
    );
    if r.status != Status::Planned {
        line("build", &build_line(&r.build));
    }
    if let Some(plan) = &r.plan {
        for (label, value) in &plan.lines {
            line(label, value);
        }
    }
    if let Some(access) = &r.access {
        line("call it", &access.how_to_call);
    }
    if let Some(smoke) = &r.smoke {
        print_smoke(smoke);
    }
    for warning in &r.warnings {
        crate::outln!("  warning: {warning}");
    }
    if let Some(config) = &r.mcp_client_config {
        crate::outln!("  MCP client configuration (add to your client's mcp.json):");
        for line in serde_json::to_string_pretty(config)
            .unwrap_or_default()
            .lines()
        {
            crate::outln!("    {line}");
        }
    }
    print_time(r);
    // The failure itself goes to stderr, like every other error.
    if let Some(err) = &r.error {
        eprintln!("error: {}", err.message);
        if let Some(hint) = &err.hint {
            eprintln!("  hint: {hint}");
        }
    }
}

fn print_headline(r: &DeployReport) {
    match r.status {
        Status::Planned => crate::outln!(
            "Planned {} (dry run; nothing was deployed)",
            r.function_name
        ),
        Status::Deployed => crate::outln!(
            "Deployed {} to {}",
            r.function_name,
            r.region.as_deref().unwrap_or("?")
        ),
        Status::Unchanged => crate::outln!("{} is unchanged; nothing to deploy", r.function_name),
        Status::Failed => crate::outln!("Failed to deploy {}", r.function_name),
    }
}

/// How the artifact was built: strategy, size, bytecode and how the agent's code ran at build.
fn build_line(build: &BuildInfo) -> String {
    let size = build
        .artifact_bytes
        .map(|b| format!(", {}", crate::build_report::mib(b)))
        .unwrap_or_default();
    let bytecode = match &build.bytecode {
        Some(b) if b.method != "none" => format!(
            ", bytecode for {} modules ({}, {}; agent code at build: {})",
            b.modules,
            crate::build_report::mib(b.bytes),
            b.method,
            if b.isolation.is_empty() {
                "unknown"
            } else {
                &b.isolation
            }
        ),
        Some(_) => ", no bytecode".to_string(),
        None => String::new(),
    };
    format!("{}{size}{bytecode}", build.strategy)
}

fn print_time(r: &DeployReport) {
    match &r.time_ms {
        Some(t) => crate::outln!(
            "  took {:.1} s (sam {:.1}, pip {:.1}, AWS {:.1}, zip {:.1}, agentdeploy {:.1})",
            r.duration_ms as f64 / 1000.0,
            t.sam as f64 / 1000.0,
            t.pip as f64 / 1000.0,
            t.aws as f64 / 1000.0,
            t.zip as f64 / 1000.0,
            t.agentdeploy as f64 / 1000.0
        ),
        None => crate::outln!("  took {:.1} s", r.duration_ms as f64 / 1000.0),
    }
}

/// Smoke cases, one line each and a line per failure (also `agentdeploy test`).
pub fn print_smoke(smoke: &SmokeReport) {
    crate::outln!(
        "  smoke cases  {} of {} passed against version {} ({})",
        smoke.cases.len() - smoke.failed_count(),
        smoke.cases.len(),
        smoke.version,
        smoke.file
    );
    for case in &smoke.cases {
        crate::outln!(
            "    {} {} ({}, {:.1} s)",
            if case.passed { "ok  " } else { "FAIL" },
            case.name,
            case.status,
            case.duration_ms as f64 / 1000.0
        );
        for failure in &case.failures {
            crate::outln!("         {failure}");
        }
    }
}

fn print_table(reports: &[DeployReport]) {
    crate::outln!(
        "{:<24} {:<10} {:<9} ENDPOINT / ERROR",
        "FUNCTION",
        "STATUS",
        "SECONDS"
    );
    for r in reports {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let detail = match (&r.error, &r.endpoint) {
            (Some(err), _) => err.message.clone(),
            (None, Some(endpoint)) => endpoint.clone(),
            (None, None) => r.function_arn.clone().unwrap_or_default(),
        };
        crate::outln!(
            "{:<24} {:<10} {:<9.1} {}",
            r.function_name,
            status,
            r.duration_ms as f64 / 1000.0,
            detail
        );
    }
    // After the table, as a single deploy prints them: each names its function.
    for r in reports {
        for warning in &r.warnings {
            crate::outln!("warning ({}): {warning}", r.function_name);
        }
    }
}

/// Prints a failure that happened before any report existed (usage errors and the like).
pub fn print_error(err: &Error, format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            let mut doc =
                serde_json::json!({ "status": "failed", "error": ErrorInfo::from_error(err) });
            if let Error::FunctionError {
                output: Some(output),
                ..
            } = err
            {
                doc["output"] = output.clone();
            }
            crate::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => {}
    }
    eprintln!("error: {err}");
    if let Some(hint) = err.hint() {
        eprintln!("  hint: {hint}");
    }
}

/// A command line clap refused. Help and version go where clap sends them (exit 0); a usage
/// error is reported like every other error: one JSON document on stdout under `-o json`, the
/// message on stderr, exit 2.
pub fn print_parse_error(err: &clap::Error, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return if err.exit_code() == 0 {
            crate::exit_codes::OK
        } else {
            crate::exit_codes::USAGE
        };
    }
    if wants_json(args) {
        let rendered = err.to_string();
        let message = rendered
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        // The same shape as every other error document (print_error).
        let error = ErrorInfo {
            kind: crate::exit_codes::kind(&Error::usage("", "")).to_string(),
            message: message.to_string(),
            hint: Some("see `agentdeploy --help`".into()),
        };
        let doc = serde_json::json!({ "status": "failed", "error": error });
        crate::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    let _ = err.print();
    crate::exit_codes::USAGE
}

/// Whether the command line asked for JSON, read without clap (which just refused it).
fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.iter().enumerate().any(|(i, arg)| {
        matches!(arg.as_str(), "-ojson" | "--output=json")
            || (matches!(arg.as_str(), "-o" | "--output")
                && args.get(i + 1).is_some_and(|next| next == "json"))
    })
}

#[cfg(test)]
mod smoke_report_tests {
    use super::*;

    #[test]
    fn junit_names_each_case_and_escapes_its_text() {
        let report = SmokeReport {
            file: "cases.json".into(),
            version: "3".into(),
            passed: false,
            cases: vec![
                CaseResult {
                    name: "adds".into(),
                    passed: true,
                    status: 200,
                    duration_ms: 1200,
                    failures: vec![],
                },
                CaseResult {
                    name: "quotes \"<&>\"".into(),
                    passed: false,
                    status: 500,
                    duration_ms: 10,
                    failures: vec!["answered 500, expected 200: \"x < y\"".into()],
                },
            ],
        };
        let xml = report.junit("agent");
        assert!(
            xml.contains(
                r#"<testsuite name="agent" tests="2" failures="1" errors="0" time="1.210">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase classname="agent" name="adds" time="1.200"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"name="quotes &quot;&lt;&amp;&gt;&quot;""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="answered 500, expected 200: &quot;x &lt; y&quot;">"#),
            "{xml}"
        );
    }
}
