"""The `kubectl support` command group: kubectl's connection flags at the root, one subcommand per module."""

from __future__ import annotations

import click

from support_operator.cli.plugin import access, case, diagnostics, open_case, queue, report
from support_operator.cli.plugin.connection import connection_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@connection_options
@click.version_option(package_name="support-operator")
def main() -> None:
    """The support team's tools: case queue, reaction, state, effort, access and monthly statements."""


for command in (
    queue.queue,
    case.ack,
    case.state,
    case.log_effort,
    access.access,
    access.approve,
    report.report,
    open_case.open_case,
    diagnostics.findings,
    diagnostics.snapshot,
    diagnostics.gather,
):
    main.add_command(command)
