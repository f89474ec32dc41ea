//! Whether a stack is this function's to change (reference §7 "Ownership"): agentdeploy tags
//! every stack it makes with the function it holds; a stack without that tag is somebody
//! else's (another team's, another tool's) unless this project's record shows agentdeploy
//! deployed it (stacks from before the tag). Deploy, rollback and destroy all ask here before
//! they change anything, so a mistyped `--stack-name` never takes over or deletes a stack.

use crate::error::{Error, Result};
use crate::lambda::render::STACK_TAG;
use crate::lambda::ship::outputs::StackState;
use crate::target::Change;

fn verb(change: Change) -> &'static str {
    match change {
        Change::Deploy => "deploy into",
        Change::Rollback => "roll back",
        Change::Destroy => "delete",
    }
}

fn flag(change: Change) -> &'static str {
    match change {
        Change::Deploy => "--stack-name",
        Change::Rollback | Change::Destroy => "NAME",
    }
}

/// `Ok(None)`: the stack carries this function's tag. `Ok(Some(note))`: it carries none, but
/// `recorded` (this project's record shows a deploy of the function into it) vouches for it; the
/// note says so. Anything else is refused (exit 2) naming the stack and the tags it carries.
pub fn check(
    stack: &StackState,
    stack_name: &str,
    function_name: &str,
    recorded: bool,
    action: Change,
) -> Result<Option<String>> {
    let shown_name = crate::untrusted::one_line(stack_name, 128);
    match stack.tags.get(STACK_TAG) {
        Some(owner) if owner == function_name => Ok(None),
        Some(owner) => {
            let owner = crate::untrusted::one_line(owner, 128);
            let hint = match action {
                Change::Deploy => format!(
                    "give `{function_name}` a stack of its own (leave out --stack-name, or pick another), or deploy `{owner}` under its own name"
                ),
                Change::Rollback | Change::Destroy => format!(
                    "run it as `agentdeploy {} {owner}` if that is the one you mean",
                    if action == Change::Rollback {
                        "rollback"
                    } else {
                        "destroy"
                    }
                ),
            };
            Err(Error::usage_hint(
                flag(action),
                format!(
                    "stack {shown_name} holds agentdeploy's function `{owner}`, not `{function_name}`; refusing to {} it, nothing changed",
                    verb(action)
                ),
                hint,
            ))
        }
        None if recorded => Ok(Some(format!(
            " (it has no {STACK_TAG} tag; this project's record shows agentdeploy deployed it)"
        ))),
        None => {
            let hint = match action {
                Change::Deploy => "pick a stack name of your own with --stack-name (or leave it out: agentdeploy names it after the function); check -e/--env and the folder you run in".to_string(),
                Change::Destroy => "if you mean to delete it, use `aws cloudformation delete-stack`; check -e/--env and the folder you run in".to_string(),
                Change::Rollback => "check -e/--env and the folder you run in; agentdeploy only moves the `live` alias of stacks it made".to_string(),
            };
            Err(Error::usage_hint(
                flag(action),
                format!(
                    "stack {shown_name} exists but agentdeploy did not make it for `{function_name}`: it has no {STACK_TAG}={function_name} tag ({}) and this project's record shows no deploy of `{function_name}`; refusing to {} it, nothing changed",
                    describe_tags(stack),
                    verb(action)
                ),
                hint,
            ))
        }
    }
}

/// The stack's tags as an error may show them (escaped, a few, each cut short).
fn describe_tags(stack: &StackState) -> String {
    if stack.tags.is_empty() {
        return "it has no tags".into();
    }
    let mut shown: Vec<String> = stack
        .tags
        .iter()
        .take(8)
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::untrusted::one_line(k, 64),
                crate::untrusted::one_line(v, 64)
            )
        })
        .collect();
    if stack.tags.len() > 8 {
        shown.push(format!("and {} more", stack.tags.len() - 8));
    }
    format!("its tags: {}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::{self, Classified};

    fn stack(tags: &[(&str, &str)]) -> StackState {
        StackState {
            status: "CREATE_COMPLETE".into(),
            reason: None,
            outputs: Default::default(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            changed_at: None,
        }
    }

    #[test]
    fn a_stack_tagged_for_the_function_is_its_own() {
        let ours = stack(&[(STACK_TAG, "x")]);
        for action in [Change::Deploy, Change::Rollback, Change::Destroy] {
            assert_eq!(check(&ours, "s", "x", false, action).unwrap(), None);
        }
    }

    #[test]
    fn a_foreign_stack_is_refused_naming_its_tags() {
        let foreign = stack(&[("team", "payments\u{1b}[2J"), ("owner", "ops")]);
        for action in [Change::Deploy, Change::Rollback, Change::Destroy] {
            let err = check(&foreign, "other-team-stack", "x", false, action).unwrap_err();
            assert_eq!(err.exit_code(), exit_codes::USAGE);
            let text = err.to_string();
            assert!(text.contains("other-team-stack"), "{text}");
            assert!(text.contains("owner=ops"), "{text}");
            assert!(text.contains(r"team=payments\u{1b}[2J"), "{text}");
            assert!(!text.contains('\u{1b}'), "{text}");
            assert!(text.contains("nothing changed"), "{text}");
        }
    }

    #[test]
    fn another_functions_stack_is_refused() {
        let other = stack(&[(STACK_TAG, "billing")]);
        let err = check(&other, "agentdeploy-billing", "x", true, Change::Deploy).unwrap_err();
        assert_eq!(err.exit_code(), exit_codes::USAGE);
        assert!(err.to_string().contains("`billing`"), "{err}");
    }

    #[test]
    fn an_untagged_stack_the_record_deployed_is_kept_with_a_note() {
        let old = stack(&[]);
        let note = check(&old, "agentdeploy-x", "x", true, Change::Destroy).unwrap();
        assert!(note.unwrap().contains("record"));
        let err = check(&old, "agentdeploy-x", "x", false, Change::Deploy).unwrap_err();
        assert!(err.to_string().contains("it has no tags"), "{err}");
    }
}
