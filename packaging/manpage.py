#!/usr/bin/env python3
"""Writes swiftginx(8) in troff from the README: the command-line table ("| flag |
meaning |") becomes OPTIONS, the signals paragraph SIGNALS.

usage: manpage.py README.md VERSION > swiftginx.8
"""
import re
import sys

readme = open(sys.argv[1], encoding="utf-8").read()
version = sys.argv[2]


def troff(text):
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links: their text
    text = text.replace("\\|", "|").replace("\\", "\\e")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = text.replace("**", "")
    return "\n".join(("\\&" + l if l.startswith((".", "'")) else l) for l in text.split("\n"))


rows = []
lines = readme.split("\n")
start = lines.index("| flag | meaning |")
for line in lines[start + 2 :]:
    if not line.startswith("|"):
        break
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    rows.append((cells[0], cells[1]))

signals = re.search(r"^Signals: (.*?)\n\n", readme, re.S | re.M).group(1).replace("\n", " ")

print('.TH SWIFTGINX 8 "" "swiftginx %s" "System Administration"' % version)
print(".SH NAME")
print("swiftginx \\- nginx-compatible web server and reverse proxy")
print(".SH SYNOPSIS")
print("\\fBswiftginx\\fR [\\fB\\-?hvVtTq\\fR] [\\fB\\-s\\fR \\fIsignal\\fR] [\\fB\\-p\\fR \\fIprefix\\fR]"
      " [\\fB\\-e\\fR \\fIfile\\fR] [\\fB\\-c\\fR \\fIfile\\fR] [\\fB\\-g\\fR \\fIdirectives\\fR]"
      " [\\fB\\-x\\fR \\fIrequest\\fR]")
print(".SH DESCRIPTION")
print("swiftginx reads nginx's configuration language and command line and serves static files,")
print("terminates TLS and proxies to application servers the way nginx does.")
print("The package's configuration is \\fI/etc/swiftginx/swiftginx.conf\\fR.")
print(".SH OPTIONS")
for flag, meaning in rows:
    print(".TP")
    print(troff(flag))
    print(troff(meaning))
print(".SH SIGNALS")
print(troff(signals))
print(".SH FILES")
print(".TP\n\\fI/etc/swiftginx/swiftginx.conf\\fR\nthe main configuration file")
print(".TP\n\\fI/var/log/swiftginx/\\fR\nerror and access logs")
print(".TP\n\\fI/run/swiftginx.pid\\fR\nthe pid of the running server")
print(".SH SEE ALSO")
print("\\fBnginx\\fR(8), /usr/share/doc/swiftginx/README.md")
