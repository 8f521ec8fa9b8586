"""Profiling: latency, load time, memory and per-operator time of an artifact, on this machine
(`profile_host`) or on a phone / device farm (mvedge.profile.devices), in one result format."""

from mvedge.profile.host import ProfileFailed, profile_host
from mvedge.profile.schema import SCHEMA, ProfileResult, from_dict, latency_stats, load_result, load_results
from mvedge.profile.table import format_result, format_results

__all__ = ["SCHEMA", "ProfileFailed", "ProfileResult", "format_result", "format_results", "from_dict", "latency_stats", "load_result", "load_results", "profile_host"]
