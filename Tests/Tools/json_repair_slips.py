# Writes Tests/SheafCoreTests/Fixtures/json-repair-slips.json: each kind of slip models make in JSON,
# applied to ten documents, with the document each must repair to. Run from the package root;
# review the diff of the fixture before committing it.
import json, random
random.seed(7)
bases = [
  {"task": "Ship the beta", "owner": "Ada", "done": False, "hours": 12},
  {"title": "Launch plan", "steps": ["draft", "review", "publish"], "budget": 2500},
  [{"name": "Alpha", "score": 3}, {"name": "Beta", "score": 7}],
  {"scene": {"place": "harbour", "time": "dusk"}, "characters": ["Morag", "Callum"], "beats": 4},
  ["red", "green", "blue"],
  {"id": "s1", "tags": ["urgent", "web"], "meta": {"pages": 3, "draft": True}},
  {"question": "Who answers it", "answer": "The ops lead", "priority": "must"},
  [{"q": "Why now", "a": "Costs rise"}, {"q": "Who pays", "a": "Finance"}, {"q": "When", "a": "Q3"}],
  {"items": [1, 2, 3], "total": 6, "unit": "days"},
  {"name": "Tidewater", "users": ["dispatcher", "technician"], "paid": True, "seats": 40},
]
def dumps(v, sep=(", ", ": ")): return json.dumps(v, separators=sep, ensure_ascii=False)
cases = []
def add(group, text, expected, name=None):
    cases.append({"name": f"{group}: {name or len([c for c in cases if c['name'].startswith(group)])+1}", "group": group, "input": text, "expected": expected})

def strings_in(v):
    out = []
    def walk(x):
        if isinstance(x, dict):
            for k, y in x.items(): walk(y)
        elif isinstance(x, list):
            for y in x: walk(y)
        elif isinstance(x, str): out.append(x)
    walk(v); return out

for b in bases:
    t = dumps(b)
    # 1 ellipsis
    if isinstance(b, list):
        add("ellipsis", t[:-1] + ", ...]", b)
        add("ellipsis", t[:-1] + ", …]", b)
    else:
        add("ellipsis", t[:-1] + ", ...}", b)
        for k, v in b.items():
            if isinstance(v, list):
                broken = t.replace(dumps(v), dumps(v)[:-1] + ", ...]", 1)
                add("ellipsis", broken, b); break
    # 2 curly quotes
    curly = []
    inside = False
    for ch in t:
        if ch == '"':
            curly.append("“" if not inside else "”"); inside = not inside
        else: curly.append(ch)
    add("curly quotes", "".join(curly), b)
    single = []
    inside = False
    for ch in t:
        if ch == '"':
            single.append("‘" if not inside else "’"); inside = not inside
        else: single.append(ch)
    add("curly quotes", "".join(single), b)
    # 3 unicode whitespace
    for ws in ["\u00a0", "\u200b", "\u3000", "\u2002", "\ufeff"]:
        spaced = dumps(b, sep=(",", ":"))
        out = []; inside = False; prev = ""
        for ch in spaced:
            if ch == '"' and prev != "\\": inside = not inside
            out.append(ch)
            if not inside and ch in ",:[{": out.append(ws)
            prev = ch
        add("unicode whitespace", ws + "".join(out), b)
    # 4 missing end quote (value followed by , } ] or newline)
    ss = strings_in(b)
    for s in ss[:3]:
        target = '"' + s + '"'
        if t.count(target) != 1: continue
        pos = t.index(target)
        after = t[pos+len(target):pos+len(target)+1]
        broken = t[:pos] + '"' + s + t[pos+len(target):]
        if after in (",", "}", "]"):
            add("missing end quote", broken, b)
    pretty = json.dumps(b, indent=2, ensure_ascii=False)
    for s in ss[:2]:
        target = '"' + s + '"'
        if pretty.count(target) != 1: continue
        pos = pretty.index(target)
        end = pos + len(target)
        if pretty[end:end+1] == "\n":
            add("missing end quote", pretty[:pos] + '"' + s + pretty[end:], b, name=f"before a line break {s}")
    # 5 missing start quote
    for s in ss[:2]:
        target = '"' + s + '"'
        if t.count(target) != 1 or not s[0].isalpha(): continue
        pos = t.index(target)
        if t[pos-2:pos] not in (": ", "[", ", "): continue
        add("missing start quote", t[:pos] + s + '"' + t[pos+len(target):], b)
    # 6 unquoted keys
    if isinstance(b, dict):
        broken = t
        for k in b: broken = broken.replace('"%s":' % k, '%s:' % k)
        add("unquoted keys", broken, b)
    # 8 concatenated strings
    for s in ss[:2]:
        if " " in s and t.count('"%s"' % s) == 1:
            a, c = s.split(" ", 1)
            add("concatenated strings", t.replace('"%s"' % s, '"%s " + "%s"' % (a, c)), b)
            add("concatenated strings", t.replace('"%s"' % s, '"%s "\n  + "%s"' % (a, c)), b)
    # 10 python constants
    if "true" in t or "false" in t:
        add("python constants", t.replace("true", "True").replace("false", "False"), b)
    # 11 JSONP
    add("jsonp", "callback(" + t + ");", b)
    add("jsonp", "window.data = " + t + ";", b)
    # 14 missing commas
    if isinstance(b, dict) and len(b) > 1:
        k = list(b)[1]
        add("missing comma", t.replace(', "%s"' % k, ' "%s"' % k, 1), b)
        add("missing colon", t.replace('"%s": ' % k, '"%s" ' % k, 1), b)
    # 15 redundant closing brackets
    add("redundant closing brackets", t + ("}" if isinstance(b, dict) else "]"), b)
    add("redundant closing brackets", t + "]}", b)
    # 16 comments after values
    if isinstance(b, dict):
        k = list(b)[0]
        v = dumps(b[k])
        add("comments", pretty.replace('"%s": %s,' % (k, json.dumps(b[k], indent=2, ensure_ascii=False)), '"%s": %s, // the first' % (k, json.dumps(b[k], indent=2, ensure_ascii=False)), 1) if not isinstance(b[k], (dict, list)) else pretty.replace("{\n", "{ // the start\n", 1), b)
        add("comments", t.replace('"%s": %s' % (k, v), '"%s": %s /* the first */' % (k, v), 1), b)
        add("comments", pretty.replace(json.dumps(b[k], ensure_ascii=False) + ",", json.dumps(b[k], ensure_ascii=False) + ", # the first", 1) if isinstance(b[k], (str, int)) else pretty.replace("{\n", "{ # the start\n", 1), b)
    # 17 escaped json in a string
    add("escaped document", json.dumps(t), b)
    add("escaped document", t.replace('"', '\\"'), b)
    # 13 regex / 12 mongo / 7 urls: per base with an extra field
    if isinstance(b, dict):
        e = dict(b); e["pattern"] = "/^[a-z]+$/i"
        add("regex literal", t[:-1] + ', "pattern": /^[a-z]+$/i}', e)
        m = dict(b); m["_id"] = "5f8d0d55b54764421b7156c9"; m["count"] = 2; m["when"] = "2012-12-19T06:01:17.171Z"
        add("mongodb types", t[:-1] + ', "_id": ObjectId("5f8d0d55b54764421b7156c9"), "count": NumberLong(2), "when": ISODate("2012-12-19T06:01:17.171Z")}', m)
        m2 = dict(b); m2["n"] = "42"
        add("mongodb types", t[:-1] + ', "n": NumberLong("42")}', m2)
        u = dict(b); u["url"] = "https://example.com/docs/start?x=1"
        add("unquoted values", t[:-1] + ', "url": https://example.com/docs/start?x=1}', u)
        d = dict(b); d["due"] = "2026-03-01"
        add("unquoted values", t[:-1] + ', "due": 2026-03-01}', d)
        w = dict(b); w["note"] = "keep it short"
        add("unquoted values", t[:-1] + ', "note": keep it short}', w)
        n = dict(b); n["code"] = "007"; n["version"] = "1.2.3"
        add("invalid numbers", t[:-1] + ', "code": 007, "version": 1.2.3}', n)
        p = dict(b); p["none"] = None; p["yes"] = True; p["undefined"] = None; p["ratio"] = None
        add("python constants", t[:-1] + ', "none": None, "yes": True, "undefined": undefined, "ratio": NaN}', p)

# truncation cases with expectations
trunc = [
  ('{"a": "hello wor', {"a": "hello wor"}),
  ('{"a": 12', {"a": 12}),
  ('{"a": 1.', {"a": 1}),
  ('{"a": "x\\u26', {"a": "x"}),
  ('{"a": "x\\', {"a": "x"}),
  ('{"a": 1, "b', {"a": 1}),
  ('{"a": 1, "b":', {"a": 1}),
  ('[1, 2, "thr', [1, 2, "thr"]),
  ('[{"a": [1, {"b": "c', [{"a": [1, {"b": "c"}]}]),
  ('{"a": tr', {"a": True}),
  ('{"a": nu', {"a": None}),
  ('["a", "b",', ["a", "b"]),
]
for text, exp in trunc:
    add("truncation", text, exp)
print(len(cases))
json.dump(cases, open("Tests/SheafCoreTests/Fixtures/json-repair-slips.json", "w"), indent=1, ensure_ascii=False)
