"""Starts clever-standin as a subprocess and talks to it over HTTP, for the tests in this folder."""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(SCRIPTS)
STANDIN = os.path.join(SCRIPTS, "clever-standin")
GENERATOR = os.path.join(SCRIPTS, "generate-district")
DEMO = os.path.join(os.path.dirname(REPO), "shared", "clever-demo")
DEMO_TOKEN = "demo-district-token-0001"


def demo_folder():
    """Clever's demo district sits beside the repository, never inside it."""
    if not os.path.isfile(os.path.join(DEMO, "users.json")):
        raise RuntimeError(
            "these tests need Clever's demo district at ../shared/clever-demo relative to the repository root "
            f"(looked in {DEMO}); it holds the recorded users.json, sections.json and friends")
    return DEMO


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Standin:
    def __init__(self, datasets, *extra):
        command = [sys.executable, STANDIN, "--port", "0"]
        for folder in datasets:
            command += ["--dataset", folder]
        command += list(extra)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            raise RuntimeError(f"clever-standin did not start: {line!r} {self.process.stderr.read()}")
        self.base = line.split("listening on ")[1].split(" ")[0]

    def stop(self):
        """Sends SIGTERM and returns the exit code."""
        self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()
        return code

    def request(self, path, token=None, method="GET", body=None, basic=None, headers=None):
        request = urllib.request.Request(self.base + path, method=method, data=body)
        if token is not None:
            request.add_header("Authorization", "Bearer " + token)
        if basic is not None:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(basic).encode()).decode())
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())

    def control(self, path, value=None):
        body = json.dumps(value).encode() if value is not None else None
        return self.request("/__control/" + path, method="POST" if body is not None else "GET", body=body).json()

    def page_all(self, path, token, limit):
        """Follows `next` links to the end; returns (records, pages)."""
        separator = "&" if "?" in path else "?"
        uri = f"{path}{separator}limit={limit}"
        records, pages = [], 0
        while uri:
            answer = self.request(uri, token)
            if answer.status != 200:
                raise AssertionError(f"{uri} answered {answer.status}: {answer.body[:200]!r}")
            page = answer.json()
            pages += 1
            records += [element["data"] for element in page["data"]]
            uri = next((link["uri"] for link in page["links"] if link["rel"] == "next"), None)
        return records, pages


def generate(out, *args):
    started = time.time()
    subprocess.run([sys.executable, GENERATOR, "--out", out, *args], check=True, capture_output=True)
    return time.time() - started


def read_collection(folder, name):
    """Every record of a dataset collection, across `<name>.json` and `<name>-*.json`."""
    paths = sorted(p for p in os.listdir(folder) if p == f"{name}.json" or (p.startswith(f"{name}-") and p.endswith(".json")))
    records = []
    for path in paths:
        with open(os.path.join(folder, path), "rb") as f:
            document = json.load(f)
        records += [element["data"] if "data" in element else element for element in document["data"]]
    return records
