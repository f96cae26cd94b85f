"""Tests of generate-district: determinism, district shape, messiness rates and next-day changes."""

import collections
import filecmp
import os
import re
import tempfile
import unittest

from test_standin import GENERATOR, generate, read_collection

GRADES = ("PreKindergarten", "Kindergarten", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
NO_MESS = ("--multi-school-rate", "0", "--cross-school-enrollment-rate", "0", "--missing-username-rate", "0",
           "--empty-username-rate", "0", "--duplicate-username-rate", "0", "--case-dup-username-rate", "0",
           "--teacher-staff-rate", "0", "--odd-names-rate", "0", "--teacher-multi-school-rate", "0")


def students_of(users):
    return [u for u in users if "student" in u["roles"]]


def username(student):
    credentials = student["roles"]["student"].get("credentials")
    return None if credentials is None else credentials.get("district_username")


def record_lines(folder, name):
    """Each record's line as written, keyed by id."""
    lines = {}
    for entry in sorted(os.listdir(folder)):
        if entry == f"{name}.json" or (entry.startswith(f"{name}-") and entry.endswith(".json")):
            with open(os.path.join(folder, entry), "rb") as f:
                for line in f.read().split(b"\n")[1:]:
                    match = re.search(rb'"uri":"/v3\.0/' + name.encode() + rb'/([0-9a-f]{24})"', line)
                    if match:
                        lines[match.group(1).decode()] = line.rstrip(b",")
    return lines


class Determinism(unittest.TestCase):
    def testSameArgumentsGiveIdenticalBytes(self):
        with tempfile.TemporaryDirectory() as scratch:
            first, second, other = (os.path.join(scratch, n) for n in ("a", "b", "c"))
            generate(first, "--students", "700", "--seed", "5", "--chunk-records", "400")
            generate(second, "--students", "700", "--seed", "5", "--chunk-records", "400")
            generate(other, "--students", "700", "--seed", "6", "--chunk-records", "400")
            names = sorted(os.listdir(first))
            self.assertEqual(names, sorted(os.listdir(second)))
            self.assertIn("users-002.json", names)
            _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
            self.assertEqual((mismatch, errors), ([], []))
            self.assertNotEqual(read_collection(first, "users"), read_collection(other, "users"))


class DistrictShape(unittest.TestCase):
    """A 2,000-student district with the default messiness."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.folder = os.path.join(cls.scratch.name, "district")
        generate(cls.folder, "--students", "2000", "--seed", "42")
        cls.users = read_collection(cls.folder, "users")
        cls.sections = read_collection(cls.folder, "sections")
        cls.schools = {s["id"]: s for s in read_collection(cls.folder, "schools")}
        cls.terms = read_collection(cls.folder, "terms")
        cls.students = students_of(cls.users)

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def testEveryCollectionIsInAscendingIdOrderWithHexIds(self):
        for name in ("districts", "schools", "terms", "sections", "users"):
            ids = [r["id"] for r in read_collection(self.folder, name)]
            self.assertEqual(ids, sorted(set(ids)), name)
            self.assertTrue(all(re.fullmatch("[0-9a-f]{24}", i) for i in ids), name)

    def testTokenAndDistrictBelongTogether(self):
        district = read_collection(self.folder, "districts")
        tokens = read_collection(self.folder, "tokens")
        self.assertEqual(len(district), 1)
        self.assertEqual(tokens[0]["owner"], {"type": "district", "id": district[0]["id"]})
        self.assertEqual(tokens[0]["access_token"], "gen-42-2000")
        self.assertTrue(all(u["district"] == district[0]["id"] for u in self.users))

    def testStudentsSitInSchoolsOfRealisticSizeAndGrade(self):
        self.assertEqual(len(self.students), 2000)
        sizes = collections.Counter(s["roles"]["student"]["school"] for s in self.students)
        levels = {"low": 0}
        for school_id, school in self.schools.items():
            low, high = GRADES.index(school["low_grade"]), GRADES.index(school["high_grade"])
            grades = {GRADES.index(s["roles"]["student"]["grade"]) for s in self.students
                      if s["roles"]["student"]["school"] == school_id}
            self.assertTrue(grades and all(low <= g <= high for g in grades), school["name"])
            if sizes[school_id] >= 100:
                self.assertLessEqual(sizes[school_id], 2000)
            levels[school["high_grade"]] = levels.get(school["high_grade"], 0) + 1
        self.assertGreaterEqual(levels.get("5", 0), 1)
        self.assertGreaterEqual(levels.get("8", 0), 1)
        self.assertGreaterEqual(levels.get("12", 0), 1)

    def testAboutSixEnrollmentsPerStudentInClassroomsOfFifteenToThirtyFive(self):
        enrollments = sum(len(s["students"]) for s in self.sections)
        self.assertTrue(5.5 <= enrollments / len(self.students) <= 7.0, enrollments / len(self.students))
        sizes = [len(s["students"]) for s in self.sections]
        in_range = sum(1 for n in sizes if 15 <= n <= 36)
        self.assertGreater(in_range / len(sizes), 0.85)
        term_ids = {t["id"] for t in self.terms}
        self.assertTrue(all(s["term_id"] in term_ids and s["school"] in self.schools for s in self.sections))
        self.assertTrue(all(s["teacher"] == s["teachers"][0] for s in self.sections))

    def testTeachersStaffAdminsAndContacts(self):
        roles = collections.Counter(r for u in self.users for r in u["roles"])
        teachers = [u for u in self.users if "teacher" in u["roles"]]
        taught = collections.Counter(t for s in self.sections for t in s["teachers"])
        self.assertTrue(all(taught[t["id"]] >= 2 for t in teachers))
        self.assertTrue(any(len(t["roles"]["teacher"]["schools"]) > 1 for t in teachers))
        school_admins = [u for u in self.users if "staff" in u["roles"] and "teacher" not in u["roles"]
                         and "district_admin" not in u["roles"]]
        per_school = collections.Counter(u["roles"]["staff"]["schools"][0] for u in school_admins)
        self.assertEqual(set(per_school), set(self.schools))
        self.assertTrue(all(1 <= n <= 3 for n in per_school.values()))
        self.assertTrue(2 <= roles["district_admin"] <= 5)
        self.assertTrue(1800 <= roles["contact"] <= 2200, roles["contact"])
        student_ids = {s["id"] for s in self.students}
        contacts = [u for u in self.users if "contact" in u["roles"]]
        self.assertTrue(all(r["student"] in student_ids for c in contacts for r in c["roles"]["contact"]["student_relationships"]))

    def assertRoughly(self, observed, rate, total, label):
        expected = rate * total
        spread = 4 * (expected ** 0.5) + 2
        self.assertTrue(abs(observed - expected) <= spread, f"{label}: {observed} observed, about {expected} expected")

    def testMessinessRatesAreRoughlyHonoured(self):
        n = len(self.students)
        details = [s["roles"]["student"] for s in self.students]
        self.assertRoughly(sum(1 for d in details if len(d["schools"]) > 1), 0.05, n, "multi-school")
        self.assertRoughly(sum(1 for d in details if "credentials" not in d), 0.01, n, "missing username")
        self.assertRoughly(sum(1 for d in details if d.get("credentials", {}).get("district_username") == ""), 0.01, n,
                           "empty username")
        names = [username(s) for s in self.students if username(s)]
        self.assertRoughly(len(names) - len(set(names)), 0.005, n, "duplicate username")
        self.assertRoughly(len(set(names)) - len({x.lower() for x in names}), 0.002, n, "case duplicate username")
        odd = sum(1 for s in self.students if not re.fullmatch("[A-Za-z]+", s["name"]["first"] + s["name"]["last"]))
        self.assertRoughly(odd, 0.01, n, "odd names")
        self.assertTrue(any(len(s["name"]["first"]) == 300 or len(s["name"]["last"]) == 300 for s in self.students)
                        or odd < 30)
        home = {s["id"]: s["roles"]["student"]["school"] for s in self.students}
        enrollments = [(sid, s["school"]) for s in self.sections for sid in s["students"]]
        elsewhere = sum(1 for sid, school in enrollments if home[sid] != school)
        self.assertRoughly(elsewhere, 0.02, len(enrollments), "cross-school enrollment")
        teachers = [u for u in self.users if "teacher" in u["roles"]]
        self.assertLessEqual(sum(1 for t in teachers if "staff" in t["roles"]), max(3, len(teachers) * 0.15))

    def testRatesOfZeroGiveACleanDistrict(self):
        with tempfile.TemporaryDirectory() as scratch:
            folder = os.path.join(scratch, "clean")
            generate(folder, "--students", "600", "--seed", "42", *NO_MESS)
            users = read_collection(folder, "users")
            students = students_of(users)
            names = [username(s) for s in students]
            self.assertTrue(all(names) and len(set(x.lower() for x in names)) == len(names))
            self.assertTrue(all(len(s["roles"]["student"]["schools"]) == 1 for s in students))
            self.assertFalse(any("staff" in u["roles"] and "teacher" in u["roles"] for u in users))


class NextDay(unittest.TestCase):
    def testChangesLeaversAndNewcomersCountExactly(self):
        with tempfile.TemporaryDirectory() as scratch:
            day1, day2, again = (os.path.join(scratch, n) for n in ("day1", "day2", "again"))
            generate(day1, "--students", "2000", "--seed", "9")
            rates = ("--change-rate", "0.01", "--leave-rate", "0.005", "--new-rate", "0.005")
            generate(day2, "--changes-from", day1, "--seed", "1", *rates)
            generate(again, "--changes-from", day1, "--seed", "1", *rates)
            names = sorted(os.listdir(day2))
            _, mismatch, errors = filecmp.cmpfiles(day2, again, names, shallow=False)
            self.assertEqual((mismatch, errors), ([], []))

            before = {s["id"] for s in students_of(read_collection(day1, "users"))}
            after = {s["id"] for s in students_of(read_collection(day2, "users"))}
            left, joined = before - after, after - before
            self.assertEqual((len(left), len(joined), len(after)), (10, 10, 2000))
            old_lines, new_lines = record_lines(day1, "users"), record_lines(day2, "users")
            changed = [i for i in before & after if old_lines[i] != new_lines[i]]
            self.assertEqual(len(changed), 20)
            untouched_others = [i for i in old_lines if i in new_lines and i not in before]
            self.assertTrue(all(old_lines[i] == new_lines[i] for i in untouched_others
                                if b'"contact"' not in old_lines[i]))

            sections = read_collection(day2, "sections")
            enrolled = {sid for s in sections for sid in s["students"]}
            self.assertFalse(enrolled & left)
            self.assertEqual(joined - enrolled, set())
            for name in ("districts", "schools", "terms", "tokens"):
                self.assertTrue(filecmp.cmp(os.path.join(day1, f"{name}.json"), os.path.join(day2, f"{name}.json"),
                                            shallow=False), name)
            old_sections, new_sections = record_lines(day1, "sections"), record_lines(day2, "sections")
            touched = {i for i in old_sections if old_sections[i] != new_sections[i]}
            expected = {s["id"] for s in read_collection(day1, "sections") if set(s["students"]) & left}
            expected |= {s["id"] for s in sections if set(s["students"]) & joined}
            self.assertEqual(touched, expected)

            events = read_collection(day2, "events")
            kinds = collections.Counter(e["type"] for e in events)
            self.assertEqual(kinds["users.created"], 10)
            self.assertEqual({e["data"]["object"]["id"] for e in events if e["type"] == "users.created"}, joined)
            deleted = {e["data"]["object"]["id"] for e in events if e["type"] == "users.deleted"}
            self.assertEqual(deleted & before, left)
            updated_students = {e["data"]["object"]["id"] for e in events if e["type"] == "users.updated"} & before
            self.assertEqual(updated_students, set(changed))
            self.assertEqual({e["data"]["object"]["id"] for e in events if e["type"] == "sections.updated"}, touched)
            self.assertTrue(all(e["previous_attributes"] for e in events if e["type"].endswith(".updated")))
            self.assertEqual([e["id"] for e in events], sorted(e["id"] for e in events))


if __name__ == "__main__":
    unittest.main()
