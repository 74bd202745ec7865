"""`manage.py backtest`: replay an agent's (or a file's) config over recorded price history.

Prints the same JSON as POST /api/v1/strategy/preview, or a table with `--format table`.
"""

import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from agents.models import Agent
from nexgent.api import DomainError
from prices.models import PriceSample
from trading.backtest import (
    DEFAULT_BUY_SOL,
    NO_FEES,
    PricePoint,
    ReplayInputError,
    parse_buy_sol,
    parse_config,
    parse_time,
    replay,
    result_json,
    simulated_venue_fees,
)

TABLE_COLUMNS = ("index", "t", "kind", "price", "tokens", "sol", "stop_price", "reason")


class Command(BaseCommand):
    help = "Replay a trading config over a token's recorded prices, with the live engine's rules."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--agent", type=int, metavar="ID", help="use this agent's config")
        source.add_argument(
            "--config", metavar="FILE.json", help="use this partial config (merged over defaults)"
        )
        parser.add_argument("--token", required=True, metavar="MINT", help="the token to replay")
        parser.add_argument("--from", dest="start", metavar="ISO", help="first sample time")
        parser.add_argument("--to", dest="end", metavar="ISO", help="last sample time")
        parser.add_argument(
            "--buy-sol",
            default=str(DEFAULT_BUY_SOL),
            metavar="SOL",
            help="SOL for the first buy (default: %(default)s)",
        )
        parser.add_argument(
            "--fees", action="store_true", help="charge the simulated venue's fees on every fill"
        )
        parser.add_argument(
            "--format", dest="output_format", choices=("json", "table"), default="json"
        )

    def handle(
        self, *args, agent, config, token, start, end, buy_sol, fees, output_format, **options
    ):
        rules = _invalid_as_command_error(parse_config, _config_overrides(agent, config))
        size = _invalid_as_command_error(parse_buy_sol, buy_sol)
        path = _recorded_path(token, _time_option("--from", start), _time_option("--to", end))
        try:
            result = replay(
                rules, buy_sol=size, prices=path, fees=simulated_venue_fees() if fees else NO_FEES
            )
        except ReplayInputError as error:
            raise CommandError(f"cannot replay the recorded prices: {error}") from None
        payload = result_json(result)
        if output_format == "table":
            self._write_table(payload)
        else:
            self.stdout.write(json.dumps(payload, indent=2))

    def _write_table(self, payload: dict) -> None:
        rows = [
            [_cell(action[column]) for column in TABLE_COLUMNS] for action in payload["actions"]
        ]
        widths = [
            max(len(column), *(len(row[i]) for row in rows))
            for i, column in enumerate(TABLE_COLUMNS)
        ]
        for row in [list(TABLE_COLUMNS), *rows]:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
        final = payload["final"]
        self.stdout.write("")
        for key, value in final.items():
            self.stdout.write(f"{key}: {_cell(value)}")


def _config_overrides(agent_id: int | None, path: str | None) -> dict:
    if agent_id is not None:
        agent = Agent.objects.filter(pk=agent_id).first()
        if agent is None:
            raise CommandError(f"no agent with id {agent_id}")
        return agent.config or {}
    try:
        with open(path, encoding="utf-8") as file:
            # Numbers as Decimal, as the API parses them: no digit of a percentage is lost.
            return json.load(file, parse_float=Decimal)
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise CommandError(f"{path} is not valid JSON: {error}") from None


def _invalid_as_command_error(parse, value):
    try:
        return parse(value)
    except DomainError as error:
        lines = [f"  {item['field'] or 'config'}: {item['message']}" for item in error.details]
        raise CommandError("\n".join([error.message, *lines])) from None


def _time_option(name: str, value: str | None):
    if value is None:
        return None
    parsed = parse_time(value)
    if isinstance(parsed, str):
        raise CommandError(f"{name} {parsed}")
    return parsed


def _recorded_path(token: str, start, end) -> list[PricePoint]:
    samples = PriceSample.objects.filter(token_address=token)
    if start is not None:
        samples = samples.filter(observed_at__gte=start)
    if end is not None:
        samples = samples.filter(observed_at__lte=end)
    path: list[PricePoint] = []
    rows = samples.order_by("observed_at", "pk").values_list("observed_at", "price_sol")
    for observed_at, price in rows.iterator(chunk_size=5000):
        # Two sources can record the same instant; the first recorded stands for it.
        if path and observed_at == path[-1].t:
            continue
        path.append(PricePoint(observed_at, price))
    if not path:
        window = f" between {start or 'the start'} and {end or 'now'}" if start or end else ""
        raise CommandError(f"no recorded prices for {token}{window}")
    return path


def _cell(value) -> str:
    return "-" if value is None else str(value)
