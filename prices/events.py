"""What market data tells the apps above it, which this app cannot import (layers run
prices -> agents -> ...): Django signals they connect receivers to."""

from django.dispatch import Signal

# A data source turned stale or down (sent once per transition, by the process that saw it):
# `source` names it, `problem` says what is wrong in words. agents.signals notifies operators.
data_source_stale = Signal()
