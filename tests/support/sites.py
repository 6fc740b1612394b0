"""Local copies of the two sites' shapes, served on 127.0.0.1 for the tests and the benchmark.

Pages are rendered from the templates in ``tests/scraper/fixtures/`` (which follow Mutopia's
piece-info.cgi/make-table.cgi output and IMSLP's work pages and API.ISCR.php JSON);
MIDI bodies are real files from the shared corpus. Each scenario also serves the
awkward cases: robots-forbidden paths, a 404, HTML where a MIDI should be, a corrupt
MIDI, one file under two URLs, a non-commercial licence, a redirect loop and very
large responses.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template
from urllib.parse import quote

FIXTURES = Path(__file__).resolve().parents[1] / "scraper" / "fixtures"
NOT_FOUND = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
GATE_PAGE = (b"<!DOCTYPE html><html><head><title>IMSLP Disclaimer</title></head><body>"
             b"<p>Please accept the disclaimer to continue.</p><form><input type=submit value=Accept></form></body></html>")
BIG_BYTES = 5 * 1024 * 1024


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True


def template(name: str) -> Template:
    return Template((FIXTURES / name).read_text(encoding="utf-8"))


def midi_route(data: bytes) -> Route:
    return Route(data, "audio/midi")


class FixtureServer:
    """A threaded HTTP server for a dict of routes (path with query -> Route). Unknown paths 404."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.user_agents: set[str] = set()
        self.times: list[tuple[float, str]] = []  # (monotonic time, path) of every request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.times.append((time.monotonic(), self.path))
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                server.user_agents.add(self.headers.get("User-Agent", ""))
                route = server.routes.get(self.path) or Route(NOT_FOUND, status=404)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.send_length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                try:
                    for start in range(0, len(route.body), 65536):
                        self.wfile.write(route.body[start:start + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler hung up on a response it did not want: that is the point

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def corrupt_midi() -> bytes:
    """A MIDI header that promises a track and then breaks off mid-event."""
    return b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x00\x90\x3c"


# ---------------------------------------------------------------- Mutopia


@dataclass
class MutopiaPiece:
    id: int
    title: str
    composer: str
    style: str
    licence: str
    midi: str  # path under /ftp/
    body: Route | None  # what the MIDI URL serves (None: nothing, a 404)
    instrument: str = "Voice (SATB)"

    @property
    def path(self) -> str:
        return self.midi.rsplit(".", 1)[0]


_MUTOPIA_LICENCE_LINKS = {
    "Public Domain": '<a href="../legal.html#publicdomain">Public Domain</a>',
}


def _mutopia_licence(licence: str) -> str:
    return _MUTOPIA_LICENCE_LINKS.get(licence, f'<a href="../legal.html#cca">{licence}</a>')


def mutopia_routes(pieces: list[MutopiaPiece], listings: dict[str, list[list[int]]],
                   extra_piece_links: dict[str, list[int]] | None = None) -> dict[str, Route]:
    """Routes for browse.html, each listing (paged) and each piece page and MIDI URL."""
    by_id = {p.id: p for p in pieces}
    routes: dict[str, Route] = {"/robots.txt": Route((FIXTURES / "mutopia/robots.txt").read_bytes(), "text/plain")}
    links = "\n".join(f'<li><a href="cgibin/make-table.cgi?collection={name}&amp;preview=1">{name}</a></li>'
                      for name in listings)
    routes["/browse.html"] = Route(template("mutopia/browse.html").substitute(
        collections=links).encode())
    row = template("mutopia/result-table.html")
    page = template("mutopia/make-table.html")
    for name, pages in listings.items():
        for number, ids in enumerate(pages):
            query = f"collection={name}&preview=1" if number == 0 else f"startat={number * 10}&collection={name}&preview=1"
            tables = []
            for pid in ids + (extra_piece_links or {}).get(f"{name}:{number}", []):
                piece = by_id.get(pid) or MutopiaPiece(pid, "Withdrawn piece", "Nobody", "", "", f"Gone/{pid}.mid", None)
                tables.append(row.substitute(title=piece.title, composer=piece.composer, opus="", date="",
                                             instrument=piece.instrument, style=piece.style, source="",
                                             licence_cell=_mutopia_licence(piece.licence), id=piece.id,
                                             path=piece.path, midi=piece.midi))
            nxt = ""
            if number + 1 < len(pages):
                nxt = (f'<a href="make-table.cgi?startat={(number + 1) * 10}&amp;collection={name}'
                       f'&amp;preview=1">Next 10</a>')
            routes[f"/cgibin/make-table.cgi?{query}"] = Route(page.substitute(tables="\n".join(tables), next=nxt).encode())
    info = template("mutopia/piece-info.html")
    for piece in pieces:
        label = "MIDI files (zipped)" if piece.midi.endswith(".zip") else "MIDI file"
        routes[f"/cgibin/piece-info.cgi?id={piece.id}"] = Route(info.substitute(
            title=piece.title, composer=piece.composer, instrument=piece.instrument, style=piece.style,
            opus="BWV 0", date="", source="Bach-Gesellschaft", licence_html=_mutopia_licence(piece.licence),
            id=piece.id, path=piece.path, midi=piece.midi, midi_label=label).encode())
        if piece.body is not None:
            routes[f"/ftp/{piece.midi}"] = piece.body
    return routes


@dataclass
class Scenario:
    routes: dict[str, Route]
    files: dict[str, bytes]  # name -> MIDI bytes the scenario serves
    expected: dict[str, str]  # MIDI path on the site -> expected outcome ('stored:<style>' or a record status)


def mutopia_scenario(corpus: Path) -> Scenario:
    f = {
        "chorale1": (corpus / "baroque/bach_bwv102_7.mid").read_bytes(),
        "chorale2": (corpus / "baroque/bach_bwv103_6.mid").read_bytes(),
        "sonata": (corpus / "classical/mozart_k545_mvt1.mid").read_bytes(),
        "tune": sorted((corpus / "folk").glob("*.mid"))[0].read_bytes(),
        "gymno": sorted((corpus / "folk").glob("*.mid"))[1].read_bytes(),
        "suite-1": (corpus / "classical/haydn_op74no1_mvt3.mid").read_bytes(),
        "suite-2": (corpus / "classical/mozart_k458_mvt2.mid").read_bytes(),
    }
    big = b"MThd" + b"\x00" * (BIG_BYTES - 4)
    P = MutopiaPiece
    pieces = [
        P(1, "Chorale BWV 102.7", "J. S. Bach (1685–1750)", "Baroque", "Creative Commons Attribution-ShareAlike 3.0",
          "BachJS/BWV102/bwv102_7/bwv102_7.mid", midi_route(f["chorale1"])),
        P(2, "Chorale BWV 103.6", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/BWV103/bwv103_6/bwv103_6.mid", midi_route(f["chorale2"])),
        P(3, "Sonata in C, K. 545 (1st mvt)", "W. A. Mozart (1756–1791)", "Classical",
          "Creative Commons Attribution 4.0", "MozartWA/KV545/k545-1/k545-1.mid", midi_route(f["sonata"]), "Piano"),
        P(4, "Gymnopédie No. 1", "E. Satie (1866–1925)", "Romantic", "Public Domain",
          "SatieE/gymnopedie_1/gymnopedie_1.mid", midi_route(f["gymno"]), "Piano"),
        P(5, "The Lark in the Morning", "Traditional", "Folk", "Creative Commons Attribution-ShareAlike 4.0",
          "Traditional/lark/lark.mid", midi_route(f["tune"]), "Violin"),
        P(6, "Chorale (lost file)", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/BWV104/bwv104_6/bwv104_6.mid", Route(NOT_FOUND.replace(b"404 Not Found", b"Moved"), "text/html")),
        P(7, "Chorale (damaged)", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/BWV108/bwv108_6/bwv108_6.mid", midi_route(corrupt_midi())),
        P(8, "Chorale BWV 102.7 (second upload)", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/BWV102/bwv102_7-copy/bwv102_7.mid", midi_route(f["chorale1"])),
        P(9, "Private draft", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "Private/draft/draft.mid", midi_route(f["chorale2"])),
        P(10, "Looping link", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/loop/a.mid", Route(b"", status=302, headers={"Location": "/ftp/BachJS/loop/b.mid"})),
        P(11, "Huge file", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/huge/huge.mid", midi_route(big)),
        P(12, "Missing file", "W. A. Mozart (1756–1791)", "Classical", "Public Domain",
          "MozartWA/missing/missing.mid", None, "Piano"),
        P(13, "Complete Suite", "W. A. Mozart (1756–1791)", "Classical", "Public Domain",
          "MozartWA/suite/suite-mids.zip", Route(zipped({"suite-1.mid": f["suite-1"], "suite-2.mid": f["suite-2"],
                                                         "README.txt": b"two movements"}), "application/zip"), "Piano"),
        P(14, "Endless stream", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/stream/stream.mid", Route(big, "audio/midi", send_length=False)),
        P(15, "Broken archive", "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
          "BachJS/broken/broken-mids.zip", Route(b"PK\x03\x04 this is not really a zip", "application/zip")),
        P(16, "Arrangement for study", "J. S. Bach (1685–1750)", "Baroque",
          "Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "BachJS/nc/nc.mid", midi_route(f["chorale2"])),
    ]
    routes = mutopia_routes(
        pieces,
        {"chorales": [[1, 2, 6, 7, 8], [9, 10, 11]], "sonatas": [[3, 12, 13, 1]], "misc": [[4, 5, 14, 15, 16]]},
        extra_piece_links={"misc:0": [99]},
    )
    routes["/ftp/BachJS/loop/b.mid"] = Route(b"", status=302, headers={"Location": "/ftp/BachJS/loop/a.mid"})
    expected = {
        "BachJS/BWV102/bwv102_7/bwv102_7.mid": "stored:baroque",
        "BachJS/BWV103/bwv103_6/bwv103_6.mid": "stored:baroque",
        "MozartWA/KV545/k545-1/k545-1.mid": "stored:classical",
        "SatieE/gymnopedie_1/gymnopedie_1.mid": "stored:unsorted",
        "Traditional/lark/lark.mid": "stored:folk",
        "BachJS/BWV104/bwv104_6/bwv104_6.mid": "invalid_midi",
        "BachJS/BWV108/bwv108_6/bwv108_6.mid": "invalid_midi",
        "BachJS/BWV102/bwv102_7-copy/bwv102_7.mid": "duplicate",
        "Private/draft/draft.mid": "blocked_by_robots",
        "BachJS/loop/a.mid": "download_failed",
        "BachJS/huge/huge.mid": "too_large",
        "MozartWA/missing/missing.mid": "download_failed",
        "MozartWA/suite/suite-mids.zip#suite-1.mid": "stored:classical",
        "MozartWA/suite/suite-mids.zip#suite-2.mid": "stored:classical",
        "BachJS/broken/broken-mids.zip": "invalid_midi",
        "BachJS/nc/nc.mid": "licence_not_allowed",
        "BachJS/stream/stream.mid": "too_large",
    }
    return Scenario(routes, f, expected)


# ---------------------------------------------------------------- IMSLP


@dataclass
class ImslpFile:
    index: int
    href: str  # as written on the page (absolute imslp.org URLs, like the real site)
    licence: str  # text of the Copyright row; "" = no row
    body: Route | None = None


@dataclass
class ImslpWork:
    title: str
    composer_sort: str  # "Bach, Johann Sebastian"
    key: str
    period: str
    piece_style: str
    instrumentation: str
    files: list[ImslpFile]

    @property
    def page_name(self) -> str:
        return f"{self.title} ({self.composer_sort})".replace(" ", "_")


def _imslp_licence_row(text: str) -> str:
    if not text:
        return ""
    link = "IMSLP:" + text.replace(" ", "_")
    return f'<tr><th>Copyright</th><td><a href="/wiki/{link}" title="{link}">{text}</a></td></tr>'


def imslp_routes(works: list[ImslpWork], page_size: int, missing: frozenset[int] = frozenset()) -> dict[str, Route]:
    """The API listing (``page_size`` rows a page), the work pages and the files they link."""
    routes: dict[str, Route] = {"/robots.txt": Route((FIXTURES / "imslp/robots.txt").read_bytes(), "text/plain")}
    page_t, file_t = template("imslp/work.html"), template("imslp/midi-file.html")
    for start in range(0, len(works), page_size):
        rows: dict[str, object] = {}
        for n, work in enumerate(works[start:start + page_size]):
            rows[str(n)] = {
                "id": f"{work.title} ({work.composer_sort})",
                "type": "2",
                "parent": f"Category:{work.composer_sort}",
                "intvals": {"composer": work.composer_sort, "worktitle": work.title,
                            "icatno": "", "pageid": str(100000 + start + n)},
                "permlink": f"https://imslp.org/wiki/{quote(work.page_name)}",
            }
        rows["metadata"] = {"start": start, "limit": page_size, "sortby": "id", "sortdirection": "ASC",
                            "moreresultsavailable": start + page_size < len(works),
                            "timestamp": 1764000000, "apiversion": 1}
        path = (f"/imslpscripts/API.ISCR.php?account=worklist/disclaimer=accepted/sort=id/type=2/"
                f"start={start}/retformat=json")
        routes[path] = Route(json.dumps(rows).encode(), "application/json")
    for number, work in enumerate(works):
        if number in missing:
            continue
        blocks = ['<h4><span class="mw-headline" id="Synthesized.2FMIDI">Synthesized/MIDI</span></h4>']
        for file in work.files:
            blocks.append(file_t.substitute(index=file.index, href=file.href, label="Complete Performance",
                                            copyright_row=_imslp_licence_row(file.licence)))
            if file.body is not None:
                routes[file.href.replace("https://imslp.org", "")] = file.body
        blocks.append('<h4><span class="mw-headline" id="Performances">Performances</span></h4>')
        blocks.append(file_t.substitute(index=900000 + number, href="https://imslp.org/files/imglnks/usimg/perf.mp3",
                                        label="Complete Performance", copyright_row=_imslp_licence_row("Public Domain")))
        composer = " ".join(reversed(work.composer_sort.split(", ")))
        routes[f"/wiki/{quote(work.page_name)}"] = Route(page_t.substitute(
            title=work.title, composer_sort=work.composer_sort, composer=composer, page_name=work.page_name,
            composer_link=work.composer_sort.replace(" ", "_"), icatno="", key=work.key, period=work.period,
            period_link=work.period.replace(" ", "_"), piece_style=work.piece_style,
            piece_style_link=work.piece_style.replace(" ", "_"), instrumentation=work.instrumentation,
            score_index=700000 + number, audio="\n".join(blocks)).encode())
    return routes


def imslp_scenario(corpus: Path) -> Scenario:
    f = {
        "prelude": (corpus / "baroque/bach_bwv104_6.mid").read_bytes(),
        "sonata": (corpus / "classical/mozart_k458_mvt2.mid").read_bytes(),
        "nc": (corpus / "baroque/bach_bwv108_6.mid").read_bytes(),
        "missa": sorted((corpus / "renaissance").glob("*.mid"))[0].read_bytes(),
    }
    files_url = "https://imslp.org/files/imglnks/usimg"
    F = ImslpFile
    works = [
        ImslpWork("Prelude and Fugue in D minor, BWV 539", "Bach, Johann Sebastian", "D minor", "Baroque", "Baroque",
                  "organ", [
                      F(500001, f"{files_url}/1/1a/IMSLP500001-PMLP01-bwv539.mid", "Creative Commons Attribution 4.0",
                        midi_route(f["prelude"])),
                      F(500002, "https://imslp.org/wiki/Special:ImagefromIndex/500002/abcd", "Public Domain"),
                      F(500003, f"{files_url}/3/3c/IMSLP500003-PMLP01-bwv539-nc.mid",
                        "Creative Commons Attribution Non-commercial 4.0", midi_route(f["nc"])),
                  ]),
        ImslpWork("Piano Sonata No.16, K.545", "Mozart, Wolfgang Amadeus", "C major", "Classical", "Classical",
                  "piano", [
                      F(500004, f"{files_url}/4/4d/IMSLP500004-PMLP02-k545.mid",
                        "Creative Commons Attribution-ShareAlike 4.0", midi_route(f["sonata"])),
                      F(500005, f"{files_url}/5/5e/IMSLP500005-PMLP02-k545-b.mid", "", midi_route(f["sonata"])),
                  ]),
        ImslpWork("Lost Work", "Nobody, Anybody", "", "", "", "", []),
        ImslpWork("Missa Brevis", "Palestrina, Giovanni Pierluigi da", "", "Renaissance", "Renaissance",
                  "voices (4)", [
                      F(500006, f"{files_url}/6/6f/IMSLP500006-PMLP04-copy-of-bwv539.mid", "Public Domain",
                        midi_route(f["prelude"])),
                      F(500007, "https://imslp.org/images/7/70/IMSLP500007-missa.mid", "Public Domain",
                        midi_route(f["missa"])),
                      F(500008, f"{files_url}/8/8a/IMSLP500008-PMLP04-missa.mid", "Public Domain",
                        midi_route(f["missa"])),
                  ]),
        ImslpWork("Gate Test", "Anonymous", "", "", "", "", [
            F(500009, f"{files_url}/9/9b/IMSLP500009-gate.mid", "Public Domain", Route(GATE_PAGE)),
            F(500010, f"{files_url}/a/a0/IMSLP500010-loop.mid", "Public Domain",
              Route(b"", status=302, headers={"Location": "/files/imglnks/usimg/a/a1/IMSLP500010-loop.mid"})),
            F(500011, f"{files_url}/b/b1/IMSLP500011-huge.mid", "Public Domain",
              midi_route(b"MThd" + bytes(BIG_BYTES - 4))),
            F(500012, f"{files_url}/c/c2/IMSLP500012-damaged.mid", "Public Domain", midi_route(corrupt_midi())),
        ]),
    ]
    routes = imslp_routes(works, page_size=3, missing=frozenset({2}))
    routes["/files/imglnks/usimg/a/a1/IMSLP500010-loop.mid"] = Route(
        b"", status=302, headers={"Location": "/files/imglnks/usimg/a/a0/IMSLP500010-loop.mid"})
    expected = {
        "/files/imglnks/usimg/1/1a/IMSLP500001-PMLP01-bwv539.mid": "stored:baroque",
        "/wiki/Special:ImagefromIndex/500002/abcd": "blocked_by_robots",
        "/files/imglnks/usimg/3/3c/IMSLP500003-PMLP01-bwv539-nc.mid": "licence_not_allowed",
        "/files/imglnks/usimg/4/4d/IMSLP500004-PMLP02-k545.mid": "stored:classical",
        "/files/imglnks/usimg/5/5e/IMSLP500005-PMLP02-k545-b.mid": "licence_not_allowed",
        "/files/imglnks/usimg/6/6f/IMSLP500006-PMLP04-copy-of-bwv539.mid": "duplicate",
        "/images/7/70/IMSLP500007-missa.mid": "blocked_by_robots",
        "/files/imglnks/usimg/8/8a/IMSLP500008-PMLP04-missa.mid": "stored:renaissance",
        "/files/imglnks/usimg/9/9b/IMSLP500009-gate.mid": "invalid_midi",
        "/files/imglnks/usimg/a/a0/IMSLP500010-loop.mid": "download_failed",
        "/files/imglnks/usimg/b/b1/IMSLP500011-huge.mid": "too_large",
        "/files/imglnks/usimg/c/c2/IMSLP500012-damaged.mid": "invalid_midi",
    }
    return Scenario(routes, f, expected)


def bench_mutopia_routes(corpus: Path, pieces: int) -> dict[str, Route]:
    """A Mutopia-shaped site of ``pieces`` valid, distinct files in listings of 10."""
    files = sorted(corpus.glob("*/*.mid"))[:pieces]
    items = [MutopiaPiece(n + 1, path.stem, "J. S. Bach (1685–1750)", "Baroque", "Public Domain",
                          f"Bench/{path.parent.name}/{path.stem}.mid", midi_route(path.read_bytes()))
             for n, path in enumerate(files)]
    ids = [p.id for p in items]
    return mutopia_routes(items, {"all": [ids[i:i + 10] for i in range(0, len(ids), 10)]})
