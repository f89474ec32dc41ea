//! Suggestions more than one error makes, built in one place (as Chalice builds each of its
//! suggestions once): a refused AWS call says which permissions the caller lacks, in one shape,
//! with where the whole policy comes from. An error's own, one-off hint stays beside it.

/// The hint for an AWS call the deploying identity was refused: `actions` it needs (and on what),
/// then `what_now` (what was left as it was, what to do next), if anything.
pub fn needs(actions: &str, what_now: Option<&str>) -> String {
    let mut hint = format!("the deploying identity needs {actions}");
    if let Some(what_now) = what_now {
        hint.push_str("; ");
        hint.push_str(what_now);
    }
    hint.push_str(" (`agentdeploy policy` prints every permission a deployer needs)");
    hint
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_permission_hint_names_the_actions_then_the_next_step_then_the_whole_policy() {
        assert_eq!(
            super::needs("logs:PutRetentionPolicy", Some("deploy again")),
            "the deploying identity needs logs:PutRetentionPolicy; deploy again (`agentdeploy policy` prints every permission a deployer needs)"
        );
    }
}
