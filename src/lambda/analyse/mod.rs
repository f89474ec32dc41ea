//! Analyse: what the agent is, read from its files without running it (reference §5): the entry,
//! its local modules, what CPython would refuse, requirements, IAM, shared state. Nothing here
//! touches the network or AWS.

pub mod agent;
pub mod compile_checks;
pub mod entry;
pub mod facts;
pub mod hosted_interpreters;
pub mod iam;
pub mod local_modules;
pub mod locate;
pub mod parse;
pub mod requirements;
pub mod shared_state;
pub mod strands;
pub mod syntax;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::{AgentAnalysis, MAX_AGENT_BYTES};
use crate::lambda::analyse::entry::{EntryKind, find_entry, resolve_imported_entries, top_level};
use crate::lambda::analyse::facts::collect_facts;
use crate::lambda::analyse::local_modules::ship_local_imports;
use crate::lambda::analyse::locate::locate;
use crate::lambda::analyse::parse::parse_module;
use crate::lambda::analyse::syntax::line_col;
use crate::lambda::runtime::Runtime;

/// Room for the parser and the tree walks, which recurse once per nesting level: an agent file
/// (at most 1 MiB) nested as deep as it can be (a million unary minuses: measured under 1 GiB
/// in a debug build) would overflow a default 8 MiB stack. Reserved, not used: the memory is
/// touched only as deep as the code really nests. The smaller size is the fallback where the
/// system will not reserve that much address space.
const ANALYSIS_STACK_BYTES: [usize; 2] = [2 << 30, 256 << 20];

/// Reads, parses and analyses the agent, on a thread with room for deeply nested code.
pub fn analyse(agent: &Path, runtime: Runtime, entry: Option<&str>) -> Result<AgentAnalysis> {
    std::thread::scope(|scope| {
        let mut spawned = Err(std::io::Error::other("no stack size to try"));
        for bytes in ANALYSIS_STACK_BYTES {
            spawned = std::thread::Builder::new()
                .name("agent-analysis".into())
                .stack_size(bytes)
                .spawn_scoped(scope, || analyse_here(agent, runtime, entry));
            if spawned.is_ok() {
                break;
            }
        }
        spawned
            .map_err(|e| Error::internal(format!("cannot start the agent analysis: {e}")))?
            .join()
            .map_err(|_| Error::internal("the agent analysis panicked"))?
    })
}

fn analyse_here(agent: &Path, runtime: Runtime, entry: Option<&str>) -> Result<AgentAnalysis> {
    let (path, package_dir) = locate(agent)?;
    let location = path.display().to_string();
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if len > MAX_AGENT_BYTES {
        return Err(Error::Agent {
            location,
            message: format!("{len} bytes is larger than the {MAX_AGENT_BYTES}-byte limit for an agent file"),
            hint: Some("move data out of the agent file into files beside it, and use a directory as --agent".into()),
        });
    }
    let bytes =
        std::fs::read(&path).map_err(|e| Error::agent(&location, format!("cannot read: {e}")))?;
    if bytes.contains(&0) {
        return Err(Error::Agent {
            location,
            message: "binary file (contains NUL bytes), not Python source".into(),
            hint: Some("pass --agent with the agent's .py source file".into()),
        });
    }
    let source = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        let (line, col) = line_col(&text, offset);
        Error::Agent {
            location: format!("{location}:{line}:{col}"),
            message: "not valid UTF-8".into(),
            hint: Some(
                "save the agent file as UTF-8 (Lambda's Python reads source as UTF-8)".into(),
            ),
        }
    })?;
    if source.trim().is_empty() {
        return Err(Error::Agent {
            location,
            message: "the agent file is empty".into(),
            hint: Some(
                "the agent needs a `main(user_input_arg=None, input_data_arg=None)` or a module-level `agent = Agent(...)`".into(),
            ),
        });
    }
    analyse_source(&path, package_dir, source, runtime, entry)
}

/// Test helper: the analysis of the agent file at `path` (its folder's modules beside it), for
/// python3.13.
#[cfg(test)]
pub(crate) fn analyse_file(path: &Path) -> AgentAnalysis {
    let source = std::fs::read_to_string(path).expect("the agent file reads");
    analyse_source(path, None, source, Runtime { minor: 13 }, None).expect("the agent analyses")
}

pub fn analyse_source(
    path: &Path,
    package_dir: Option<PathBuf>,
    source: String,
    runtime: Runtime,
    requested_entry: Option<&str>,
) -> Result<AgentAnalysis> {
    let display = path.display().to_string();
    let module = parse_module(&display, &source, runtime)?;
    let mut found = top_level(&module, &source, path);
    resolve_imported_entries(&mut found, path, runtime, requested_entry)?;
    let (entry, main) = find_entry(&found, &display, requested_entry)?;
    let mut warnings = Vec::new();
    if entry.name != "lambda_handler"
        && let Some(theirs) = found.functions.get("lambda_handler")
    {
        // Lambda calls `handler.lambda_handler`, which is agentdeploy's from here on.
        warnings.push(format!(
            "{display}:{}: the agent's own `lambda_handler` is not what Lambda calls: the handler calls `{}` (pass --entry lambda_handler to use yours)",
            theirs.line, entry.name
        ));
    }
    warnings.extend(crate::lambda::analyse::shared_state::warnings(
        &module, &source, &display,
    ));
    let relative = Path::new(path.file_name().unwrap_or(path.as_os_str()));
    let facts = collect_facts(&module, &source, relative, path);
    let module_paths = facts.module_paths;
    let mut analysis = AgentAnalysis {
        path: path.to_path_buf(),
        display,
        package_dir,
        source,
        entry_app: found
            .entrypoints
            .get(&entry.name)
            .cloned()
            .filter(|_| entry.kind == EntryKind::Entrypoint),
        serves_at_import: found.serves_at_import.clone(),
        entry,
        main,
        imports: facts.imports,
        bedrock_models: facts.bedrock_models,
        agentcore_code_interpreter: facts.agentcore,
        aws_sdk_use: facts.aws_sdk,
        interrupts: facts.interrupts,
        local_modules: Vec::new(),
        warnings,
    };
    if analysis.package_dir.is_none() {
        ship_local_imports(&mut analysis, runtime, module_paths)?;
    }
    Ok(analysis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;
    use crate::lambda::analyse::agent::*;
    use crate::lambda::analyse::entry::*;
    use crate::lambda::analyse::facts::*;

    fn analyse_str(src: &str) -> Result<AgentAnalysis> {
        analyse_entry(src, None)
    }

    fn analyse_entry(src: &str, entry: Option<&str>) -> Result<AgentAnalysis> {
        analyse_source(
            Path::new("agent.py"),
            None,
            src.to_string(),
            Runtime { minor: 13 },
            entry,
        )
    }

    const IMPORT: &str = "from strands import Agent\n";

    #[test]
    fn entry_order_is_entry_flag_then_main_then_handler_then_the_one_agent() {
        let both = format!("{IMPORT}agent = Agent()\ndef main(u=None):\n    return agent(u)\n");
        let a = analyse_str(&both).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Main,
                name: "main".into(),
                line: 3
            }
        );
        let a = analyse_entry(&both, Some("agent")).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Agent,
                name: "agent".into(),
                line: 2
            }
        );

        let handler =
            format!("{IMPORT}agent = Agent()\ndef lambda_handler(event, context):\n    return 1\n");
        let a = analyse_str(&handler).unwrap();
        assert_eq!(a.entry.kind, EntryKind::Handler);
        assert_eq!(a.entry.name, "lambda_handler");

        let sample = format!(
            "{IMPORT}import strands\nrecipe_agent: Agent = strands.Agent(system_prompt='x')\nif __name__ == '__main__':\n    while True:\n        print(recipe_agent(input('> ')))\n"
        );
        let a = analyse_str(&sample).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Agent,
                name: "recipe_agent".into(),
                line: 3
            }
        );
    }

    #[test]
    fn agents_written_as_web_apps_are_entered_through_their_app() {
        // An AgentCore sample: the entrypoint wins over the module-level Agent (and `main`), and
        // its `app.run()` at import is found with its line.
        let agentcore = format!(
            "{IMPORT}from bedrock_agentcore import BedrockAgentCoreApp\napp = BedrockAgentCoreApp()\nagent = Agent()\ndef main(u=None):\n    return u\n@app.entrypoint\nasync def invoke(payload, context):\n    yield payload\napp.run()\n"
        );
        let a = analyse_str(&agentcore).unwrap();
        assert_eq!(a.entry.kind, EntryKind::Entrypoint);
        assert_eq!(a.entry.name, "invoke");
        assert_eq!(a.entry_app.as_deref(), Some("app"));
        assert!(a.main.is_generator && a.streams_by_itself());
        assert_eq!(a.serves_at_import, vec![10]);
        // One that builds its agent inside the entrypoint has something to call now.
        let inside = "from bedrock_agentcore import BedrockAgentCoreApp\napp = BedrockAgentCoreApp()\n@app.entrypoint\ndef invoke(payload):\n    from strands import Agent\n    return str(Agent()(payload['prompt']))\nif __name__ == '__main__':\n    app.run()\n";
        let a = analyse_str(inside).unwrap();
        assert_eq!(a.entry.kind, EntryKind::Entrypoint);
        assert!(!a.streams_by_itself());
        assert!(
            a.serves_at_import.is_empty(),
            "under __main__ it never runs in Lambda"
        );
        // A FastAPI app beside an Agent: the app is what callers reach; --entry picks either.
        let fastapi =
            format!("{IMPORT}from fastapi import FastAPI\napi = FastAPI()\nagent = Agent()\n");
        let a = analyse_str(&fastapi).unwrap();
        assert_eq!(
            (a.entry.kind, a.entry.name.as_str()),
            (EntryKind::Asgi, "api")
        );
        assert!(a.streams_by_itself());
        let a = analyse_entry(&fastapi, Some("agent")).unwrap();
        assert_eq!(a.entry.kind, EntryKind::Agent);
        // An entrypoint AgentCore could not call is refused with its line.
        let bad = "from bedrock_agentcore import BedrockAgentCoreApp\napp = BedrockAgentCoreApp()\n@app.entrypoint\ndef invoke(a, b, c):\n    return 1\n";
        let err = analyse_str(bad).unwrap_err();
        assert!(err.to_string().contains("agent.py:3"), "{err}");
        assert!(
            err.to_string().contains("(payload) or (payload, context)"),
            "{err}"
        );
    }

    #[test]
    fn several_agents_without_main_name_each_with_its_line() {
        let src = format!("{IMPORT}researcher = Agent()\nwriter = Agent()\n");
        let err = analyse_str(&src).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`researcher` (line 2)"), "{text}");
        assert!(text.contains("`writer` (line 3)"), "{text}");
        assert!(
            err.hint().unwrap().contains("--entry researcher"),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 2);
        let a = analyse_entry(&src, Some("writer")).unwrap();
        assert_eq!(a.entry.name, "writer");
    }

    #[test]
    fn a_rebound_name_is_what_python_would_call() {
        // `agent` is rebound to a string: it is no longer an Agent; `main` redefined keeps the last.
        let src = format!(
            "{IMPORT}agent = Agent()\nagent = 'x'\ndef main():\n    pass\ndef main(a, b):\n    pass\n"
        );
        let a = analyse_str(&src).unwrap();
        assert_eq!(a.main.positional, ["a", "b"]);
        let err = analyse_entry(&src, Some("agent")).unwrap_err();
        assert!(
            err.to_string().contains("--entry `agent` is neither"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("main()"), "{err:?}");
    }

    #[test]
    fn async_main_with_two_parameters() {
        let a = analyse_str(
            "async def main(user_input_arg=None, input_data_arg=None):\n    return 1\n",
        )
        .unwrap();
        assert!(a.main.is_async);
        assert_eq!(a.main.positional, ["user_input_arg", "input_data_arg"]);
        assert_eq!(a.main.arity(), Some(2));
    }

    #[test]
    fn a_main_that_can_never_receive_the_input_is_refused_naming_what_to_deploy_instead() {
        for (source, why) in [
            ("def main():\n    return 1\n", "takes no parameters"),
            (
                "import argparse\ndef main(argv=None):\n    args = argparse.ArgumentParser().parse_args(argv)\n",
                "command-line program (argparse)",
            ),
            (
                "import sys\ndef main(*args):\n    return sys.argv[1]\n",
                "command-line program (sys.argv)",
            ),
            (
                "import click\n@click.command()\n@click.option('--q')\ndef main(q):\n    return q\n",
                "command-line program (a click command)",
            ),
        ] {
            let with_agent = format!("{IMPORT}agent = Agent()\n{source}");
            let err = analyse_str(&with_agent).unwrap_err();
            let Error::Agent {
                location,
                message,
                hint,
            } = &err
            else {
                panic!("{err:?}")
            };
            assert!(message.contains(why), "{source}: {message}");
            assert!(location.starts_with("agent.py:"), "{location}");
            assert!(
                hint.as_deref()
                    .unwrap_or_default()
                    .contains("--entry agent"),
                "{hint:?}"
            );
            // Named, it is deployed as it is.
            assert_eq!(
                analyse_entry(&with_agent, Some("main")).unwrap().entry.name,
                "main"
            );
        }
        let alone = analyse_str("def main():\n    return 1\n").unwrap_err();
        assert!(alone.to_string().contains("takes no parameters"), "{alone}");
    }

    #[test]
    fn an_agent_built_inside_try_if_or_with_is_found_but_not_under_the_main_guard() {
        let source = format!(
            "{IMPORT}try:\n    agent = Agent()\nexcept ImportError:\n    agent = None\n\nif __name__ == \"__main__\":\n    other = Agent()\n"
        );
        let a = analyse_str(&source).unwrap();
        assert_eq!(
            (a.entry.kind, a.entry.name.as_str(), a.entry.line),
            (EntryKind::Agent, "agent", 3)
        );
        let with = format!(
            "{IMPORT}import contextlib\nwith contextlib.suppress(Exception):\n    if True:\n        bot = Agent()\n"
        );
        assert_eq!(analyse_str(&with).unwrap().entry.name, "bot");
    }

    #[test]
    fn another_frameworks_agent_is_no_strands_agent_and_gets_no_bedrock_grant() {
        let adk = "from google.adk.agents import Agent\nroot_agent = Agent(model=\"gemini-2.0-flash\", name=\"x\")\n";
        let err = analyse_str(adk).unwrap_err();
        assert!(err.to_string().contains("nothing to call"), "{err}");
        let with_main = format!("{adk}def main(user_input_arg=None):\n    return 1\n");
        assert!(analyse_str(&with_main).unwrap().bedrock_models.is_empty());
        let strands = format!("{IMPORT}agent = Agent(model=\"amazon.nova-lite-v1:0\")\n");
        assert_eq!(
            analyse_str(&strands).unwrap().bedrock_models[0]
                .model_id
                .as_deref(),
            Some("amazon.nova-lite-v1:0")
        );
    }

    #[test]
    fn hints_name_the_orchestrator_or_the_tool() {
        let team = format!(
            "{IMPORT}researcher = Agent()\nwriter = Agent()\ndef run_team(topic):\n    return writer(str(researcher(topic)))\n"
        );
        let err = analyse_str(&team).unwrap_err();
        let Error::Agent { hint, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            hint.as_deref()
                .unwrap_or_default()
                .contains("--entry run_team"),
            "{hint:?}"
        );
        let tool =
            "from strands import tool\n@tool\ndef weather(city: str) -> str:\n    return city\n";
        let err = analyse_str(tool).unwrap_err();
        let Error::Agent { hint, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            hint.as_deref()
                .unwrap_or_default()
                .contains("--entry weather"),
            "{hint:?}"
        );
    }

    #[test]
    fn sync_main_arity() {
        // A `main` without parameters is deployed only when --entry names it: it is called with
        // nothing.
        assert_eq!(
            analyse_entry("def main():\n    pass\n", Some("main"))
                .unwrap()
                .main
                .arity(),
            Some(0)
        );
        assert_eq!(
            analyse_str("def main(x):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            Some(1)
        );
        assert_eq!(
            analyse_str("def main(*args):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            Some(2)
        );
        assert!(
            !analyse_str("def main(a, b, c=1):\n    pass\n")
                .unwrap()
                .main
                .is_async
        );
    }

    #[test]
    fn nested_main_does_not_count() {
        let err = analyse_str("class A:\n    def main(self):\n        pass\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("nothing to call: no top-level `main`"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = analyse_str("import os\n\ndef main(:\n    pass\n").unwrap_err();
        let Error::Agent {
            location, message, ..
        } = err
        else {
            panic!()
        };
        assert_eq!(location, "agent.py:3:10");
        assert!(message.starts_with("syntax error"), "{message}");
    }

    #[test]
    fn python_3_12_and_3_13_syntax_parses() {
        let src = "type Pair = tuple[int, int]\n\ndef main(u=None, d=None):\n    songs = ['a']\n    s = f\"{'\\n'.join(songs)} {f\"{u}\"}\"\n    match d:\n        case {'k': v}:\n            return v\n        case _:\n            return s\n";
        analyse_str(src).unwrap();
    }

    #[test]
    fn pep_701_fstring_is_refused_for_an_older_runtime() {
        let src = "def main(u=None, d=None):\n    return f\"{\"nested\"}\"\n";
        let err = analyse_source(
            Path::new("a.py"),
            None,
            src.into(),
            Runtime { minor: 11 },
            None,
        )
        .unwrap_err();
        let Error::Agent { location, .. } = err else {
            panic!()
        };
        assert!(location.starts_with("a.py:2:"), "{location}");
        analyse_source(
            Path::new("a.py"),
            None,
            src.into(),
            Runtime { minor: 12 },
            None,
        )
        .unwrap();
    }

    #[test]
    fn imports_and_models() {
        let src = r#"
import os, json
from strands import Agent, tool
from strands.models import BedrockModel
from strands_tools import calculator, use_aws
from . import sibling
import boto3
MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
model = BedrockModel(model_id=MODEL)
fallback = BedrockModel(model_id=os.environ["M"])
default_agent = Agent()
literal_agent = Agent(model="anthropic.claude-3-haiku-20240307-v1:0")
object_agent = Agent(model=model, tools=[calculator])
def main(user_input_arg=None, input_data_arg=None):
    from bedrock_agentcore.tools.code_interpreter_client import code_session
    return None
"#;
        let a = analyse_str(src).unwrap();
        let tops: Vec<&str> = a.imports.iter().map(|i| i.top_level()).collect();
        assert_eq!(
            tops,
            [
                "os",
                "json",
                "strands",
                "strands",
                "strands_tools",
                "boto3",
                "bedrock_agentcore"
            ]
        );
        assert_eq!(
            a.bedrock_models,
            vec![
                BedrockModelUse {
                    model_id: Some("us.anthropic.claude-sonnet-4-20250514-v1:0".into()),
                    is_default: false,
                    line: 9,
                    file: PathBuf::from("agent.py"),
                },
                BedrockModelUse {
                    model_id: None,
                    is_default: false,
                    line: 10,
                    file: PathBuf::from("agent.py"),
                },
                BedrockModelUse {
                    model_id: None,
                    is_default: true,
                    line: 11,
                    file: PathBuf::from("agent.py"),
                },
                BedrockModelUse {
                    model_id: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
                    is_default: false,
                    line: 12,
                    file: PathBuf::from("agent.py"),
                },
            ]
        );
        let lines = |places: &[Place]| -> Vec<usize> {
            assert!(places.iter().all(|p| p.file == Path::new("agent.py")));
            places.iter().map(|p| p.line).collect()
        };
        assert_eq!(lines(&a.agentcore_code_interpreter), vec![15]);
        assert_eq!(lines(&a.aws_sdk_use), vec![5, 7]);
    }

    #[test]
    fn line_col_counts_characters() {
        // "é" is two bytes: byte 6 is the space, the third character of line 2.
        assert_eq!(line_col("ab\ncé d", 6), (2, 3));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
