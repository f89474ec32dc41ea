"""A sample Strands agent for agentdeploy. Deploy it with `agentdeploy lambda`."""

from strands import Agent, tool


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


agent = Agent(
    model="us.anthropic.claude-sonnet-4-20250514-v1:0",
    tools=[word_count],
    system_prompt="You are a concise, helpful assistant.",
)


async def main(user_input_arg=None, input_data_arg=None):
    result = await agent.invoke_async(user_input_arg or "Say hello.")
    return str(result)
