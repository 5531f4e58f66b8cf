"""Typed keys of what the aiohttp application holds."""

from __future__ import annotations

from aiohttp import web

from ioe_aggregator.agreements import Agreements
from ioe_aggregator.agreements.comparisons import Comparisons
from ioe_aggregator.broker import BrokerConnection
from ioe_aggregator.config import Config
from ioe_aggregator.datadis.runs import SyncRuns
from ioe_aggregator.emoncms.imports import Imports
from ioe_aggregator.ingest.status import MemberStatus
from ioe_aggregator.ingest.writer import Ingest
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.replicas import Replicas
from ioe_aggregator.results.publisher import ResultsPublisher
from ioe_aggregator.store import Store
from ioe_aggregator.supervisor import Supervisor

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
BROKER = web.AppKey("broker", BrokerConnection)
REGISTRY = web.AppKey("registry", Registry)
INGEST = web.AppKey("ingest", Ingest)
AGREEMENTS = web.AppKey("agreements", Agreements)
COMPARISONS = web.AppKey("comparisons", Comparisons)
RESULTS = web.AppKey("results", ResultsPublisher)
SUPERVISOR = web.AppKey("supervisor", Supervisor)
STATUS = web.AppKey("status", MemberStatus)
DATADIS_RUNS = web.AppKey("datadis_runs", SyncRuns)
EMONCMS_IMPORTS = web.AppKey("emoncms_imports", Imports)
REPLICAS = web.AppKey("replicas", Replicas)
