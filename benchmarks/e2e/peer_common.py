"""What the benchmark peers (spark_job.py, duckdb_job.py) share.

Attribute derivation here is a simplified version of cc/etl/attributes.cc
(storefront country from the current_url domain, referrer domain and type,
device type / browser / OS from user_agent): the peers do comparable work per
member, but only natural keys and fact measures are compared with ours.
"""

import json
import os
import sys
import time

# Storefront domain suffix after "glamira" -> ISO country code.
COUNTRY_BY_SUFFIX = {
    ".ae": "AE", ".at": "AT", ".com.au": "AU", ".be": "BE", ".bg": "BG",
    ".com.br": "BR", ".ca": "CA", ".ch": "CH", ".cl": "CL", ".cz": "CZ",
    ".de": "DE", ".dk": "DK", ".ee": "EE", ".es": "ES", ".fi": "FI",
    ".fr": "FR", ".co.uk": "GB", ".uk": "GB", ".gr": "GR", ".hr": "HR",
    ".hu": "HU", ".ie": "IE", ".in": "IN", ".it": "IT", ".jp": "JP",
    ".lt": "LT", ".lu": "LU", ".lv": "LV", ".com.mx": "MX", ".mx": "MX",
    ".nl": "NL", ".no": "NO", ".co.nz": "NZ", ".pl": "PL", ".pt": "PT",
    ".ro": "RO", ".rs": "RS", ".se": "SE", ".sg": "SG", ".si": "SI",
    ".sk": "SK", ".com.tr": "TR", ".com": "US", ".co.za": "ZA",
}

# code -> (name, region, continent); unknown codes map to "XX".
COUNTRIES = {
    "XX": ("Unknown", "Unknown", "Unknown"),
    "AE": ("United Arab Emirates", "Western Asia", "Asia"),
    "AT": ("Austria", "Western Europe", "Europe"),
    "AU": ("Australia", "Australia and New Zealand", "Oceania"),
    "BE": ("Belgium", "Western Europe", "Europe"),
    "BG": ("Bulgaria", "Eastern Europe", "Europe"),
    "BR": ("Brazil", "South America", "Americas"),
    "CA": ("Canada", "Northern America", "Americas"),
    "CH": ("Switzerland", "Western Europe", "Europe"),
    "CL": ("Chile", "South America", "Americas"),
    "CZ": ("Czechia", "Eastern Europe", "Europe"),
    "DE": ("Germany", "Western Europe", "Europe"),
    "DK": ("Denmark", "Northern Europe", "Europe"),
    "EE": ("Estonia", "Northern Europe", "Europe"),
    "ES": ("Spain", "Southern Europe", "Europe"),
    "FI": ("Finland", "Northern Europe", "Europe"),
    "FR": ("France", "Western Europe", "Europe"),
    "GB": ("United Kingdom", "Northern Europe", "Europe"),
    "GR": ("Greece", "Southern Europe", "Europe"),
    "HR": ("Croatia", "Southern Europe", "Europe"),
    "HU": ("Hungary", "Eastern Europe", "Europe"),
    "IE": ("Ireland", "Northern Europe", "Europe"),
    "IN": ("India", "Southern Asia", "Asia"),
    "IT": ("Italy", "Southern Europe", "Europe"),
    "JP": ("Japan", "Eastern Asia", "Asia"),
    "LT": ("Lithuania", "Northern Europe", "Europe"),
    "LU": ("Luxembourg", "Western Europe", "Europe"),
    "LV": ("Latvia", "Northern Europe", "Europe"),
    "MX": ("Mexico", "Central America", "Americas"),
    "NL": ("Netherlands", "Western Europe", "Europe"),
    "NO": ("Norway", "Northern Europe", "Europe"),
    "NZ": ("New Zealand", "Australia and New Zealand", "Oceania"),
    "PL": ("Poland", "Eastern Europe", "Europe"),
    "PT": ("Portugal", "Southern Europe", "Europe"),
    "RO": ("Romania", "Eastern Europe", "Europe"),
    "RS": ("Serbia", "Southern Europe", "Europe"),
    "SE": ("Sweden", "Northern Europe", "Europe"),
    "SG": ("Singapore", "South-eastern Asia", "Asia"),
    "SI": ("Slovenia", "Southern Europe", "Europe"),
    "SK": ("Slovakia", "Eastern Europe", "Europe"),
    "TR": ("Turkey", "Western Asia", "Asia"),
    "US": ("United States", "Northern America", "Americas"),
    "ZA": ("South Africa", "Southern Africa", "Africa"),
}

# Regular expressions (Java and RE2 compatible, no backslashes so that they
# survive SQL string literals) used by both peers.
URL_HOST_RE = r"^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)"
STORE_SUFFIX_RE = r"glamira(([.][a-z]+)+)$"
SEARCH_RE = r"(^|[.])(google|bing|yahoo|duckduckgo|yandex|baidu|ecosia)[.]"
SOCIAL_RE = r"(^|[.])(facebook|instagram|pinterest|twitter|tiktok|youtube|linkedin|reddit|t)[.](com|co)"
# Date/time validity as in cc/etl/testdata/oracle.sql; the peers also parse
# strictly, so impossible dates (02-30, 24:00) are rejected.
LOCAL_TIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}$"


def sql_case_device_type(ua):
    """A SQL CASE classifying a user agent (column expression `ua`)."""
    return (f"CASE WHEN {ua} = '' THEN 'Unknown' "
            f"WHEN {ua} LIKE '%bot%' OR {ua} LIKE '%Bot%' OR {ua} LIKE '%crawler%' OR {ua} LIKE '%Spider%' THEN 'Bot' "
            f"WHEN {ua} LIKE '%iPad%' OR {ua} LIKE '%Tablet%' THEN 'Tablet' "
            f"WHEN {ua} LIKE '%Mobi%' OR {ua} LIKE '%iPhone%' OR {ua} LIKE '%Android%' THEN 'Mobile' "
            f"ELSE 'Desktop' END")


def sql_case_browser(ua):
    return (f"CASE WHEN {ua} = '' THEN 'Unknown' "
            f"WHEN {ua} LIKE '%Edg/%' THEN 'Edge' "
            f"WHEN {ua} LIKE '%OPR/%' THEN 'Opera' "
            f"WHEN {ua} LIKE '%SamsungBrowser%' THEN 'Samsung Internet' "
            f"WHEN {ua} LIKE '%Firefox/%' THEN 'Firefox' "
            f"WHEN {ua} LIKE '%Chrome/%' OR {ua} LIKE '%CriOS/%' THEN 'Chrome' "
            f"WHEN {ua} LIKE '%Safari/%' THEN 'Safari' "
            f"ELSE 'Other' END")


def sql_case_os(ua):
    return (f"CASE WHEN {ua} = '' THEN 'Unknown' "
            f"WHEN {ua} LIKE '%Android%' THEN 'Android' "
            f"WHEN {ua} LIKE '%iPhone%' OR {ua} LIKE '%iPad%' THEN 'iOS' "
            f"WHEN {ua} LIKE '%CrOS%' THEN 'Chrome OS' "
            f"WHEN {ua} LIKE '%Windows%' THEN 'Windows' "
            f"WHEN {ua} LIKE '%Mac OS X%' THEN 'macOS' "
            f"WHEN {ua} LIKE '%Linux%' THEN 'Linux' "
            f"ELSE 'Other' END")


def sql_case_referrer_type(url, domain, regexp_fn):
    """regexp_fn: the engine's boolean regex function (regexp_like,
    regexp_matches)."""
    return (f"CASE WHEN {url} = '' THEN 'Direct' "
            f"WHEN {domain} LIKE '%glamira%' THEN 'Internal' "
            f"WHEN {regexp_fn}({domain}, '{SEARCH_RE}') THEN 'Search Engine' "
            f"WHEN {regexp_fn}({domain}, '{SOCIAL_RE}') THEN 'Social Media' "
            f"ELSE 'Other' END")


def fact_partition_ddl(date_key, attached):
    """DDL for one date's fact partition: attached now, or a plain table with
    the parent's columns, attached (and so indexed) after the load."""
    name = f"fact_product_views_d{date_key}"
    if attached:
        return [f"CREATE TABLE {name} PARTITION OF fact_product_views "
                f"FOR VALUES IN ({date_key})"]
    return [f"CREATE TABLE {name} (LIKE fact_product_views INCLUDING DEFAULTS)"]


def attach_ddl(date_key):
    name = f"fact_product_views_d{date_key}"
    return (f"ALTER TABLE fact_product_views ATTACH PARTITION {name} "
            f"FOR VALUES IN ({date_key})")


class Timer:
    """Phase timings, printed as one JSON line (`PEER_RESULT {...}`) that
    run.py reads."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.last = self.t0
        self.phases = {}
        self.counts = {}

    def mark(self, phase):
        now = time.monotonic()
        self.phases[phase] = round(now - self.last, 3)
        self.last = now
        print(f"[{phase}] {self.phases[phase]:.2f}s", file=sys.stderr, flush=True)

    def report(self):
        self.phases["total_in_process"] = round(time.monotonic() - self.t0, 3)
        print("PEER_RESULT " + json.dumps({"phases": self.phases, "counts": self.counts}),
              flush=True)


def pg_password():
    pw = os.environ.get("PGPASSWORD")
    if not pw:
        sys.exit("PGPASSWORD is not set")
    return pw
