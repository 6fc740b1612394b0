"""The pieces of a style in the library: list them, upload more, delete one."""

from __future__ import annotations

import logging
from typing import Any

from radio.admin.errors import NotFound, quoted
from radio.admin.feed import AdminFeed
from radio.admin.style_service import StyleService
from radio.admin.uploads import Upload, ingest_files, mark_duplicates, piece_json
from radio.library import Library
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")


class PieceService:
    def __init__(self, styles: StyleService, library: Library, feed: AdminFeed) -> None:
        self.styles = styles
        self.library = library
        self.feed = feed

    async def list(self, name: str) -> list[dict[str, Any]]:
        style = self.styles.style(name)
        pieces = []
        for corpus_style in style.corpus_styles:
            pieces += await in_store_thread(self.library.catalog.list_pieces, corpus_style)
        return [piece_json(p) for p in pieces]

    async def add(self, name: str, upload: Upload) -> dict[str, Any]:
        style = self.styles.style(name)
        # Pieces go where the trainer looks for this style: its own library style if it
        # trains on it, else the first library style it trains on.
        target = name if name in style.corpus_styles or not style.corpus_styles else style.corpus_styles[0]
        composer = upload.fields.get("composer", "")
        accepted, duplicates, rejected = await ingest_files(self.library, target, upload.files, composer=composer)
        log.info("admin: upload to %s: %d accepted, %d duplicates, %d rejected",
                 name, len(accepted), len(duplicates), len(upload.rejected) + len(rejected))
        if accepted:
            self.feed.publish("styles")
        return {"style": name, "accepted": accepted, "duplicates": mark_duplicates(duplicates, style.corpus_styles),
                "rejected": upload.rejected + rejected}

    async def delete(self, piece_id: str) -> dict[str, Any]:
        piece = await in_store_thread(self.library.catalog.get_piece, piece_id)
        if piece is None:
            raise NotFound(f"no piece {piece_id!r}")
        await in_store_thread(self.library.catalog.delete_piece, piece_id)
        # Blobs are content-addressed and a sha256 belongs to one piece, so the file goes too.
        await in_store_thread(self.library.blobs.delete, piece.blob_key)
        log.info("admin: deleted piece %s (%s) of %s", piece.id, quoted(piece.title), piece.style)
        self.feed.publish("styles")
        return {"deleted": piece_json(piece)}
