#!/usr/bin/python3
"""Independent reference for test/evtx.test.ts: reads .evtx files with Debian's python3-evtx
(Willi Ballenthin's python-evtx, module Evtx) and prints one JSON line per record:

  {"file", "recordId" (record header), "eventRecordId", "provider", "eventId", "timeCreated",
   "computer", "channel", "data": [[Name or null, text], ...] (EventData's Data elements), "eventDataOther": [[path, text], ...]
   (its other elements, e.g. Binary), "userData": [[path, text], ...] (leaves and attributes)}

Values are python-evtx's renderings, untouched; the test normalises what it renders differently from
Windows. A file that fails midway prints {"file", "error"}. Rendering runs at about 180 records/s, so
large files are only counted: --count prints {"file", "count"} per file, records not rendered.

Usage: evtx_reference.py FILE...   |   evtx_reference.py --count FILE...
Run it with /usr/bin/python3 (the system Python that python3-evtx installs into).
"""
import json
import sys
import xml.etree.ElementTree as ET

import Evtx.Evtx as evtx

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def local(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


def text_of(el):
    # python-evtx renders a string array as <string>item</string> children.
    items = [c for c in el if local(c.tag) == "string"]
    if items:
        return ",".join(c.text or "" for c in items)
    return el.text or ""


def flatten(el, path, out):
    p = path + "/" + local(el.tag)
    for k, v in el.attrib.items():
        out.append([p + "/@" + local(k), v])
    children = list(el)
    if children and not all(local(c.tag) == "string" for c in children):
        for c in children:
            flatten(c, p, out)
    else:
        out.append([p, text_of(el)])


def record_json(path, record):
    xml = record.xml()
    root = ET.fromstring(xml)
    system = root.find(NS + "System")

    def sys_text(name):
        el = system.find(NS + name)
        return None if el is None else (el.text or "")

    def sys_attr(name, attr):
        el = system.find(NS + name)
        return None if el is None else el.get(attr)

    data = []
    other = []
    event_data = root.find(NS + "EventData")
    if event_data is not None:
        for d in event_data:
            if local(d.tag) == "Data":
                data.append([d.get("Name"), text_of(d)])
            else:  # <Binary> of classic events, and anything else
                flatten(d, "", other)
    user_data = []
    ud = root.find(NS + "UserData")
    if ud is not None:
        for c in ud:
            flatten(c, "", user_data)
    return {
        "file": path,
        "recordId": record.record_num(),
        "eventRecordId": sys_text("EventRecordID"),
        "provider": sys_attr("Provider", "Name"),
        "eventId": sys_text("EventID"),
        "timeCreated": sys_attr("TimeCreated", "SystemTime"),
        "computer": sys_text("Computer"),
        "channel": sys_text("Channel"),
        "data": data,
        "eventDataOther": other,
        "userData": user_data,
    }


def count(paths):
    for path in paths:
        try:
            with evtx.Evtx(path) as log:
                n = sum(1 for _ in log.records())
            print(json.dumps({"file": path, "count": n}))
        except Exception as e:
            print(json.dumps({"file": path, "error": "%s: %s" % (type(e).__name__, e)}))


def main(paths):
    for path in paths:
        try:
            with evtx.Evtx(path) as log:
                for record in log.records():
                    print(json.dumps(record_json(path, record)))
        except Exception as e:  # report and go on with the next file
            print(json.dumps({"file": path, "error": "%s: %s" % (type(e).__name__, e)}))
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--count"]:
        count(sys.argv[2:])
    else:
        main(sys.argv[1:])
