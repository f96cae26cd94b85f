"""Tests of clever-standin, run as a subprocess on a free port and spoken to over HTTP.

The harness at the top (Standin, generate, read_collection) is shared with test_generator.py.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import http.client
import urllib.error
import urllib.request

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(SCRIPTS)
STANDIN = os.path.join(SCRIPTS, "clever-standin")
GENERATOR = os.path.join(SCRIPTS, "generate-district")
# A checkout kept elsewhere (a git worktree, say) can point CLEVER_DEMO at the folder instead.
DEMO = os.environ.get("CLEVER_DEMO") or os.path.join(os.path.dirname(REPO), "shared", "clever-demo")
DEMO_TOKEN = "demo-district-token-0001"


def demo_folder():
    """Clever's demo district sits beside the repository, never inside it."""
    if not os.path.isfile(os.path.join(DEMO, "users.json")):
        raise RuntimeError(
            "these tests need Clever's demo district at ../shared/clever-demo relative to the repository root "
            f"(looked in {DEMO}; set CLEVER_DEMO to use another place); it holds Clever's recorded users.json, "
            "sections.json and the files derived from them")
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


DEMO_COUNTS = {"student": 1004, "teacher": 89, "district_admin": 3, "contact": 1002}


class DemoDistrictPaging(unittest.TestCase):
    """Pages Clever's recorded demo district and checks the exact totals Clever's own data holds."""

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin([demo_folder()], "--rate-limit", "100000")

    @classmethod
    def tearDownClass(cls):
        assert cls.standin.stop() == 0, "clever-standin did not exit 0 on SIGTERM"

    def checkDemoTotals(self, limit):
        users, _ = self.standin.page_all("/v3.0/users", DEMO_TOKEN, limit)
        self.assertEqual(len(users), 2098)
        ids = [u["id"] for u in users]
        self.assertEqual(ids, sorted(set(ids)))
        for role, count in DEMO_COUNTS.items():
            chosen, _ = self.standin.page_all(f"/v3.0/users?role={role}", DEMO_TOKEN, limit)
            self.assertEqual(len(chosen), count, role)
            self.assertTrue(all(role in u["roles"] for u in chosen))
        schools, _ = self.standin.page_all("/v3.0/schools", DEMO_TOKEN, limit)
        terms, _ = self.standin.page_all("/v3.0/terms", DEMO_TOKEN, limit)
        sections, _ = self.standin.page_all("/v3.0/sections", DEMO_TOKEN, limit)
        self.assertEqual((len(schools), len(terms), len(sections)), (3, 5, 378))
        self.assertEqual(sum(len(s["students"]) for s in sections), 8954)

    def testDemoTotalsWithLimitTwo(self):
        self.checkDemoTotals(2)

    def testDemoTotalsWithLimitTenThousand(self):
        self.checkDemoTotals(10000)

    def testFullLastPageOffersNextAndTrailingPageIsEmpty(self):
        _, pages = self.standin.page_all("/v3.0/users", DEMO_TOKEN, 1049)
        self.assertEqual(pages, 3)
        first = self.standin.request("/v3.0/users?limit=1049", DEMO_TOKEN).json()
        rels = [link["rel"] for link in first["links"]]
        self.assertEqual(rels, ["self", "next"])
        second = self.standin.request(first["links"][1]["uri"], DEMO_TOKEN).json()
        self.assertEqual([link["rel"] for link in second["links"]], ["self", "next", "prev"])

    def testNextLinkKeepsOtherParameters(self):
        page = self.standin.request("/v3.0/users?role=teacher&limit=5", DEMO_TOKEN).json()
        next_uri = [link["uri"] for link in page["links"] if link["rel"] == "next"][0]
        last = page["data"][-1]["data"]["id"]
        self.assertEqual(next_uri, f"/v3.0/users?limit=5&starting_after={last}&role=teacher")

    def testEndingBeforeGivesTheRecordsJustBeforeTheCursor(self):
        everyone, _ = self.standin.page_all("/v3.0/sections", DEMO_TOKEN, 10000)
        cursor = everyone[50]["id"]
        page = self.standin.request(f"/v3.0/sections?limit=10&ending_before={cursor}", DEMO_TOKEN).json()
        self.assertEqual([e["data"]["id"] for e in page["data"]], [s["id"] for s in everyone[40:50]])
        self.assertIn("prev", [link["rel"] for link in page["links"]])

    def testLimitAboveTenThousandAnswers413(self):
        self.assertEqual(self.standin.request("/v3.0/users?limit=10001", DEMO_TOKEN).status, 413)
        self.assertEqual(self.standin.request("/v3.0/users?limit=10000", DEMO_TOKEN).status, 200)

    def testUnknownTokenAnswers401(self):
        answer = self.standin.request("/v3.0/users", "not-a-token")
        self.assertEqual(answer.status, 401)
        self.assertEqual(answer.json(), {"error": "invalid token"})
        self.assertEqual(self.standin.request("/v3.0/users").status, 401)

    def testSingleRecordsAndUnknownIds(self):
        school = self.standin.request("/v3.0/schools/5a25ff950a5f621109000004", DEMO_TOKEN).json()
        self.assertEqual(school["data"]["name"], "Demo High School")
        self.assertEqual(school["links"], [{"rel": "self", "uri": "/v3.0/schools/5a25ff950a5f621109000004"}])
        user = self.standin.request("/v3.0/users/5a25ffb0c1bc2a00360003ed", DEMO_TOKEN).json()
        self.assertEqual(user["data"]["roles"]["student"]["credentials"]["district_username"], "stevez33")
        missing = self.standin.request("/v3.0/users/000000000000000000000000", DEMO_TOKEN)
        self.assertEqual((missing.status, missing.json()), (404, {"error": "Resource not found"}))

    def testSchoolScopedListsFollowSchoolAndSchools(self):
        users = read_collection(demo_folder(), "users")
        sections = read_collection(demo_folder(), "sections")
        for school in ("5a25ff950a5f621109000004", "5a25ff950a5f621109000005", "5a25ff950a5f621109000006"):
            expected = sorted(u["id"] for u in users if "student" in u["roles"] and (
                u["roles"]["student"].get("school") == school or school in u["roles"]["student"].get("schools", [])))
            served, _ = self.standin.page_all(f"/v3.0/schools/{school}/users?role=student", DEMO_TOKEN, 300)
            self.assertEqual([u["id"] for u in served], expected)
            classrooms, _ = self.standin.page_all(f"/v3.0/schools/{school}/sections", DEMO_TOKEN, 100)
            self.assertEqual(len(classrooms), sum(1 for s in sections if s["school"] == school))
        self.assertEqual(self.standin.request("/v3.0/schools/nope/users", DEMO_TOKEN).status, 404)

    def testDistrictTokensNeedTheClientSecret(self):
        good = self.standin.request("/oauth/tokens?owner_type=district", basic=("standin-client", "standin-secret"))
        self.assertEqual(good.status, 200)
        self.assertEqual([t["access_token"] for t in good.json()["data"]], [DEMO_TOKEN])
        bad = self.standin.request("/oauth/tokens?owner_type=district", basic=("standin-client", "wrong"))
        self.assertEqual(bad.status, 401)

    def testEveryAnswerCarriesRateLimitHeaders(self):
        answer = self.standin.request("/v3.0/districts", DEMO_TOKEN)
        self.assertEqual(answer.headers["X-RateLimit-Limit"], "100000")
        self.assertGreater(int(answer.headers["X-RateLimit-Reset"]), time.time())
        self.assertIn("X-RateLimit-Remaining", answer.headers)

    def testConnectionsAreKeptAlive(self):
        connection = http.client.HTTPConnection(self.standin.base.split("//")[1])
        for _ in range(3):
            connection.request("GET", "/v3.0/terms", headers={"Authorization": "Bearer " + DEMO_TOKEN})
            answer = connection.getresponse()
            self.assertEqual(len(answer.read()), int(answer.headers["Content-Length"]))
        self.assertIsNotNone(connection.sock, "the server closed a keep-alive connection")
        connection.close()


class SignIn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.standin = Standin([demo_folder()], "--login-code", "teacher-code=603ebb2ab452fb006c76396d")

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()

    def exchange(self, code):
        body = f"code={code}&grant_type=authorization_code&redirect_uri=http://localhost/cb".encode()
        return self.standin.request("/oauth/tokens", method="POST", body=body, basic=("standin-client", "standin-secret"),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})

    def testCodeFromTheCommandLineSignsInTheTeacher(self):
        answer = self.exchange("teacher-code")
        self.assertEqual(answer.status, 200)
        token = answer.json()["access_token"]
        self.assertEqual(answer.json()["token_type"], "bearer")
        me = self.standin.request("/v3.0/me", token).json()
        self.assertEqual(me["type"], "teacher")
        self.assertEqual(me["data"], {"id": "603ebb2ab452fb006c76396d", "district": "5a0c91b95c7cc000010d417c",
                                      "type": "teacher"})
        self.assertEqual(self.standin.request("/v3.0/users?role=student", token).status, 403)

    def testCodeFromTheControlEndpointSignsInAStudent(self):
        self.standin.control("login-codes", {"codes": {"student-code": "5a25ffb0c1bc2a00360003ed"}})
        body = json.dumps({"code": "student-code", "grant_type": "authorization_code",
                           "redirect_uri": "http://localhost/cb"}).encode()
        answer = self.standin.request("/oauth/tokens", method="POST", body=body,
                                      basic=("standin-client", "standin-secret"),
                                      headers={"Content-Type": "application/json"})
        me = self.standin.request("/v3.0/me", answer.json()["access_token"]).json()
        self.assertEqual((me["type"], me["data"]["id"]), ("student", "5a25ffb0c1bc2a00360003ed"))

    def testUnknownCodeAnswersInvalidGrant(self):
        answer = self.exchange("no-such-code")
        self.assertEqual((answer.status, answer.json()), (400, {"error": "invalid_grant"}))

    def testExchangeNeedsTheClientSecret(self):
        body = b"code=teacher-code&grant_type=authorization_code&redirect_uri=x"
        answer = self.standin.request("/oauth/tokens", method="POST", body=body, basic=("standin-client", "nope"))
        self.assertEqual(answer.status, 401)


class Faults(unittest.TestCase):
    """Each fault is switched on at runtime and shown to happen, in the answers and in the stats."""

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin([demo_folder()], "--rate-limit", "100000")

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()

    def setUp(self):
        self.standin.control("reset", {})

    def testFailRateAnswersServerErrors(self):
        self.standin.control("faults", {"fail_rate": 1.0})
        statuses = {self.standin.request("/v3.0/terms", DEMO_TOKEN).status for _ in range(30)}
        self.assertTrue(statuses <= {500, 502, 503} and len(statuses) >= 2, statuses)
        stats = self.standin.control("stats")
        self.assertEqual(stats["faults"]["fail"], 30)
        self.assertEqual(sum(stats["by_kind"]["terms"].values()), 30)

    def testBurst429AnswersEveryNthRequest(self):
        self.standin.control("faults", {"burst_429": 3})
        answers = [self.standin.request("/v3.0/terms", DEMO_TOKEN) for _ in range(6)]
        self.assertEqual([a.status for a in answers], [200, 200, 429, 200, 200, 429])
        self.assertEqual(answers[2].headers["Retry-After"], "1")
        self.assertEqual(answers[2].headers["X-RateLimit-Remaining"], "0")
        self.assertLessEqual(int(answers[2].headers["X-RateLimit-Reset"]), time.time() + 2.5)
        self.assertEqual(self.standin.control("stats")["faults"]["burst_429"], 2)

    def testLatencySlowsAnswers(self):
        self.standin.control("faults", {"latency_ms": 300})
        started = time.time()
        self.assertEqual(self.standin.request("/v3.0/terms", DEMO_TOKEN).status, 200)
        self.assertGreaterEqual(time.time() - started, 0.3)
        self.assertEqual(self.standin.control("stats")["faults"]["delayed"], 1)

    def testDropRateCutsTheBodyShort(self):
        self.standin.control("faults", {"drop_rate": 1.0})
        connection = http.client.HTTPConnection(self.standin.base.split("//")[1])
        connection.request("GET", "/v3.0/users?limit=50", headers={"Authorization": "Bearer " + DEMO_TOKEN})
        answer = connection.getresponse()
        promised = int(answer.headers["Content-Length"])
        with self.assertRaises(http.client.IncompleteRead) as raised:
            answer.read()
        self.assertEqual(len(raised.exception.partial), promised // 2)
        connection.close()
        self.assertEqual(self.standin.control("stats")["faults"]["dropped"], 1)

    def testRevokeAfterTurnsTheTokenAway(self):
        self.standin.control("faults", {"revoke_after": 3})
        statuses = [self.standin.request("/v3.0/terms", DEMO_TOKEN).status for _ in range(5)]
        self.assertEqual(statuses, [200, 200, 200, 401, 401])
        self.assertEqual(self.standin.control("stats")["faults"]["revoked"], 2)

    def testRateLimitAnswers429WithRetryAfter(self):
        self.standin.control("faults", {"rate_limit": 4})
        answers = [self.standin.request("/v3.0/terms", DEMO_TOKEN) for _ in range(5)]
        self.assertEqual([a.status for a in answers], [200, 200, 200, 200, 429])
        self.assertEqual([a.headers["X-RateLimit-Remaining"] for a in answers], ["3", "2", "1", "0", "0"])
        self.assertGreaterEqual(int(answers[4].headers["Retry-After"]), 1)
        self.assertEqual(self.standin.control("stats")["faults"]["rate_limited"], 1)

    def testMutationWhilePagingAddsAStudentAndRemovesAnUnseenRecord(self):
        with open(os.path.join(demo_folder(), "users.json"), "rb") as f:
            original = {element["data"]["id"] for element in json.load(f)["data"]}
        self.standin.control("faults", {"mutate_while_paging": True})
        served, _ = self.standin.page_all("/v3.0/users?role=student", DEMO_TOKEN, 100)
        ids = [u["id"] for u in served]
        self.assertEqual(ids, sorted(set(ids)))
        added = set(ids) - original
        self.assertEqual(len(added), 1)
        self.assertEqual(len(ids), 1004)
        stats = self.standin.control("stats")
        self.assertEqual((stats["faults"]["mutation_inserted"], stats["faults"]["mutation_removed"]), (1, 1))
        newcomer = self.standin.request(f"/v3.0/users/{added.pop()}", DEMO_TOKEN).json()["data"]
        self.assertIn("student", newcomer["roles"])
        self.standin.control("reset", {})
        again, _ = self.standin.page_all("/v3.0/users?role=student", DEMO_TOKEN, 100)
        self.assertEqual({u["id"] for u in again} - original, set())
        self.assertEqual(len(again), 1004)

    def testControlRejectsUnknownFaults(self):
        answer = self.standin.request("/__control/faults", method="POST", body=b'{"fail_rat": 1}')
        self.assertEqual(answer.status, 400)
        self.assertEqual(self.standin.control("faults")["fail_rate"], 0.0)


class FaultFlags(unittest.TestCase):
    """The same faults chosen on the command line."""

    def testCommandLineFaultsTakeEffect(self):
        standin = Standin([demo_folder()], "--fail-rate", "0.5", "--seed", "3", "--burst-429", "7",
                          "--latency-ms", "5", "--drop-rate", "0.1", "--revoke-after", "40")
        try:
            faults = standin.control("faults")
            self.assertEqual((faults["fail_rate"], faults["burst_429"], faults["revoke_after"]), (0.5, 7, 40))
            statuses = []
            for _ in range(45):
                try:
                    statuses.append(standin.request("/v3.0/users?limit=20", DEMO_TOKEN).status)
                except http.client.IncompleteRead:
                    statuses.append("dropped")
            counts = standin.control("stats")["faults"]
            self.assertGreater(counts["fail"], 5)
            self.assertGreaterEqual(counts["burst_429"], 4)
            self.assertGreater(counts["dropped"], 0)
            self.assertIn("dropped", statuses)
            self.assertEqual(counts["revoked"], 5)
            self.assertEqual(statuses[-5:], [401] * 5)
            # Latency applies to every request that got past the other faults.
            self.assertEqual(counts["delayed"], 45 - counts["fail"] - counts["burst_429"] - counts["revoked"])
        finally:
            self.assertEqual(standin.stop(), 0)

    def testMutateWhilePagingFromTheCommandLine(self):
        standin = Standin([demo_folder()], "--mutate-while-paging", "--rate-limit", "100000")
        try:
            served, _ = standin.page_all("/v3.0/users", DEMO_TOKEN, 500)
            self.assertEqual(len(served), 2098)
            self.assertEqual(standin.control("stats")["faults"]["mutation_inserted"], 1)
        finally:
            standin.stop()


class ManyDistricts(unittest.TestCase):
    def testEachTokenSeesOnlyItsDistrict(self):
        import tempfile
        with tempfile.TemporaryDirectory() as scratch:
            generated = os.path.join(scratch, "small")
            generate(generated, "--students", "120", "--seed", "11", "--chunk-records", "100")
            self.assertTrue(os.path.exists(os.path.join(generated, "users-002.json")))
            standin = Standin([demo_folder(), generated], "--rate-limit", "100000")
            try:
                tokens = standin.request("/oauth/tokens?owner_type=district",
                                         basic=("standin-client", "standin-secret")).json()["data"]
                self.assertEqual(sorted(t["access_token"] for t in tokens), sorted([DEMO_TOKEN, "gen-11-120"]))
                mine, _ = standin.page_all("/v3.0/users?role=student", "gen-11-120", 7)
                self.assertEqual(len(mine), 120)
                self.assertEqual(mine, [u for u in read_collection(generated, "users") if "student" in u["roles"]])
                district = standin.request("/v3.0/districts", "gen-11-120").json()["data"]
                self.assertEqual(len(district), 1)
                demo_user = "5a25ffb0c1bc2a00360003ed"
                self.assertEqual(standin.request(f"/v3.0/users/{demo_user}", "gen-11-120").status, 404)
            finally:
                standin.stop()

    def testEventsComeFromEventsJsonOrAreEmpty(self):
        import tempfile
        with tempfile.TemporaryDirectory() as scratch:
            day1, day2 = os.path.join(scratch, "day1"), os.path.join(scratch, "day2")
            generate(day1, "--students", "400", "--seed", "12")
            generate(day2, "--changes-from", day1, "--seed", "2", "--change-rate", "0.05")
            standin = Standin([demo_folder(), day2], "--rate-limit", "100000")
            try:
                events, _ = standin.page_all("/v3.0/events", "gen-12-400", 3)
                self.assertEqual(events, read_collection(day2, "events"))
                self.assertGreater(len(events), 20)
                one = standin.request(f"/v3.0/events/{events[0]['id']}", "gen-12-400").json()["data"]
                self.assertEqual(one, events[0])
                self.assertEqual(standin.request("/v3.0/events", DEMO_TOKEN).json()["data"], [])
            finally:
                standin.stop()


if __name__ == "__main__":
    unittest.main()
