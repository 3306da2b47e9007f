"""The parking lot's database: spots, reservations and entries in one SQLite file (standard library only).

Several kiosks (threads or processes) share one file. Every write is one `BEGIN IMMEDIATE` transaction,
so two kiosks assigning at the same moment are serialised by SQLite and never get the same spot; partial
unique indexes make a double booking impossible even for code that skips this module. WAL mode lets
readers go on while a kiosk writes, and an entry is committed before its ticket is shown, so a crash
later (even `kill -9`) loses no entry that a driver saw.

Times are naive local datetimes stored as ISO text ("2025-05-01T14:02:00"): the kiosk's wall clock.
"""

from __future__ import annotations

import datetime
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS spots (
    id      TEXT PRIMARY KEY,                              -- printed on the ticket: T01, D05
    covered INTEGER NOT NULL CHECK (covered IN (0, 1))
);
CREATE TABLE IF NOT EXISTS reservations (
    id       INTEGER PRIMARY KEY,
    plate    TEXT NOT NULL,
    spot     TEXT NOT NULL REFERENCES spots(id),           -- held for this plate until `until`
    until    TEXT NOT NULL,                                -- the expected exit
    entry_id INTEGER REFERENCES entries(id)                -- set when the car comes in
);
CREATE TABLE IF NOT EXISTS entries (
    id             INTEGER PRIMARY KEY,
    plate          TEXT NOT NULL,
    arrival        TEXT NOT NULL,
    expected_exit  TEXT NOT NULL,
    covered        INTEGER NOT NULL,
    spot           TEXT NOT NULL REFERENCES spots(id),
    exit_time      TEXT,                                   -- NULL while the car is inside
    reservation_id INTEGER REFERENCES reservations(id)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_car_per_spot ON entries(spot) WHERE exit_time IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS one_entry_per_plate ON entries(plate) WHERE exit_time IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS one_open_reservation ON reservations(plate) WHERE entry_id IS NULL;
"""
# Stamped in the header of every file we make (PRAGMA application_id), so a lot's file is told from any
# other SQLite file without guessing. Files from before the stamp are recognised by their tables.
APPLICATION_ID = 0x45535443  # "ESTC"
SCHEMA_VERSION = 1  # PRAGMA user_version
TABLES = {
    "spots": {"id", "covered"},
    "reservations": {"id", "plate", "spot", "until", "entry_id"},
    "entries": {"id", "plate", "arrival", "expected_exit", "covered", "spot", "exit_time", "reservation_id"},
}
SQLITE_MAGIC = b"SQLite format 3\x00"


class ParkingError(Exception):
    """A rule of the lot said no; the message is Spanish and can be shown to the driver or the staff."""


class AlreadySetUp(ParkingError):
    pass


class NotOurs(ParkingError):
    """The file is not a lot's database (another program's SQLite file, or not SQLite at all); it was
    left untouched. The message does not name the file: the caller knows which option gave it."""


class PlateInside(ParkingError):
    pass


class NoSpot(ParkingError):
    """No free spot of the wanted kind; `other_kind_free` says whether the other kind has one."""

    def __init__(self, message: str, other_kind_free: bool):
        super().__init__(message)
        self.other_kind_free = other_kind_free


@dataclass(frozen=True)
class Entry:
    id: int
    plate: str
    spot: str
    covered: bool
    arrival: datetime.datetime
    expected_exit: datetime.datetime
    reservation_id: int | None = None

    @property
    def stay_minutes(self) -> int:
        return round((self.expected_exit - self.arrival).total_seconds() / 60)


@dataclass(frozen=True)
class Reservation:
    id: int
    plate: str
    spot: str
    covered: bool
    until: datetime.datetime


def _iso(t: datetime.datetime) -> str:
    return t.replace(microsecond=0).isoformat()


def _kind(covered: bool) -> str:
    return "techado" if covered else "descubierto"


class Parking:
    """One SQLite file. Opens a short connection per operation, so one object is safe to share between
    threads (the kiosk's request handlers) and any number of processes can use the same file."""

    def __init__(self, path: str | Path, timeout_s: float = 30.0):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_ours(self.path)  # before the first write: a foreign file must stay byte for byte as it was
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
            if _stamp(conn) != (APPLICATION_ID, SCHEMA_VERSION):  # a new file, or one from before the stamp
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                for statement in SCHEMA.split(";"):  # executescript would commit the open transaction
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("COMMIT")

    @contextmanager
    def _connect(self):
        # isolation_level=None: we issue BEGIN ourselves, so every transaction is explicit.
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")  # a committed entry survives a power cut, not only a crash
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self):
        """One write transaction; IMMEDIATE takes the write lock up front, so the reads inside it
        (which spot is free) cannot go stale before the insert."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- set-up ---------------------------------------------------------------------------------

    def ensure_spots(self, total: int, covered: int) -> bool:
        """Creates the spots if the lot has none yet (a new file); True when it did."""
        try:
            self.create_spots(total, covered)
        except AlreadySetUp:
            return False
        return True

    def create_spots(self, total: int, covered: int) -> list[str]:
        """A lot with `total` spots, the first `covered` of them covered (T01…), the rest open (D01…)."""
        if total < 1 or not 0 <= covered <= total:
            raise ParkingError(f"cantidad de lugares inválida: {total} en total, {covered} techados.")
        ids = [f"T{i:02d}" for i in range(1, covered + 1)] + [f"D{i:02d}" for i in range(1, total - covered + 1)]
        with self._write() as conn:
            if conn.execute("SELECT COUNT(*) FROM spots").fetchone()[0]:
                raise AlreadySetUp(f"{self.path} ya tiene lugares cargados; para empezar de cero usá otro archivo.")
            conn.executemany("INSERT INTO spots(id, covered) VALUES (?, ?)", [(i, i.startswith("T")) for i in ids])
        return ids

    def reserve(self, plate: str, until: datetime.datetime, covered: bool | None, now: datetime.datetime) -> Reservation:
        """Holds a free spot (of the wanted kind, if given) for `plate` until `until`."""
        if until <= now:
            raise ParkingError(f"la reserva de {plate} termina {_iso(until)}, que ya pasó.")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM reservations WHERE plate=? AND entry_id IS NULL AND until>?",
                            (plate, _iso(now))).fetchone():
                raise ParkingError(f"{plate} ya tiene una reserva abierta.")
            conn.execute("DELETE FROM reservations WHERE plate=? AND entry_id IS NULL", (plate,))  # expired ones
            spot = self._free_spot(conn, covered, now, plate=None)
            if spot is None:
                raise NoSpot(f"no hay lugares {'libres' if covered is None else _kind(covered) + 's libres'} "
                             "para reservar.", other_kind_free=False)
            cur = conn.execute("INSERT INTO reservations(plate, spot, until) VALUES (?, ?, ?)",
                               (plate, spot[0], _iso(until)))
            return Reservation(cur.lastrowid, plate, spot[0], bool(spot[1]), until.replace(microsecond=0))

    # --- queries ----------------------------------------------------------------------------------

    def inside(self, plate: str) -> Entry | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, plate, spot, covered, arrival, expected_exit, reservation_id FROM entries "
                "WHERE plate=? AND exit_time IS NULL", (plate,)).fetchone()
        return None if row is None else _entry(row)

    def reservation(self, plate: str, now: datetime.datetime) -> Reservation | None:
        """The plate's reservation that is still open at `now`, if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT r.id, r.plate, r.spot, s.covered, r.until FROM reservations r JOIN spots s ON s.id=r.spot "
                "WHERE r.plate=? AND r.entry_id IS NULL AND r.until>?", (plate, _iso(now))).fetchone()
        if row is None:
            return None
        return Reservation(row[0], row[1], row[2], bool(row[3]), datetime.datetime.fromisoformat(row[4]))

    def free_spots(self, now: datetime.datetime) -> dict[bool, int]:
        """Free spots by kind ({True: covered, False: open}), not counting those held by reservations."""
        with self._connect() as conn:
            rows = conn.execute(_FREE_SQL, {"now": _iso(now), "plate": None, "covered": None}).fetchall()
        return {True: sum(1 for r in rows if r[1]), False: sum(1 for r in rows if not r[1])}

    def entries(self) -> list[Entry]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id, plate, spot, covered, arrival, expected_exit, reservation_id "
                                "FROM entries ORDER BY id").fetchall()
        return [_entry(r) for r in rows]

    # --- the kiosk's write ------------------------------------------------------------------------

    def assign_spot(self, plate: str, stay_minutes: int | None, covered: bool | None,
                    now: datetime.datetime) -> Entry:
        """Records the car's entry in a free spot and returns it (committed when this returns).

        With an open reservation the reserved spot is used (and its end time when `stay_minutes` is
        None); otherwise a free spot of the wanted kind: `covered` True/False, or None for any (an
        open one first, so covered spots stay for drivers who ask for them). Raises PlateInside if the
        plate is already inside and NoSpot if nothing fits.
        """
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM entries WHERE plate=? AND exit_time IS NULL", (plate,)).fetchone():
                raise PlateInside(f"la patente {plate} ya figura adentro del estacionamiento.")
            res = conn.execute(
                "SELECT r.id, r.spot, s.covered, r.until FROM reservations r JOIN spots s ON s.id=r.spot "
                "WHERE r.plate=? AND r.entry_id IS NULL AND r.until>?", (plate, _iso(now))).fetchone()
            if res is not None:
                spot, spot_covered, res_id = res[1], bool(res[2]), res[0]
                until = datetime.datetime.fromisoformat(res[3])
            else:
                found = self._free_spot(conn, covered, now, plate)
                if found is None:
                    other = None if covered is None else self._free_spot(conn, not covered, now, plate)
                    wanted = "libres" if covered is None else _kind(covered) + "s libres"
                    raise NoSpot(f"no quedan lugares {wanted}.", other_kind_free=other is not None)
                spot, spot_covered, res_id, until = found[0], bool(found[1]), None, None
            if stay_minutes is not None:
                until = now + datetime.timedelta(minutes=stay_minutes)
            if until is None:
                raise ParkingError("falta saber cuánto tiempo se queda.")
            cur = conn.execute(
                "INSERT INTO entries(plate, arrival, expected_exit, covered, spot, reservation_id) "
                "VALUES (?, ?, ?, ?, ?, ?)", (plate, _iso(now), _iso(until), spot_covered, spot, res_id))
            if res_id is not None:
                conn.execute("UPDATE reservations SET entry_id=? WHERE id=?", (cur.lastrowid, res_id))
        return Entry(cur.lastrowid, plate, spot, spot_covered, now.replace(microsecond=0),
                     until.replace(microsecond=0), res_id)

    def register_exit(self, plate: str, now: datetime.datetime) -> Entry:
        with self._write() as conn:
            row = conn.execute("SELECT id, plate, spot, covered, arrival, expected_exit, reservation_id "
                               "FROM entries WHERE plate=? AND exit_time IS NULL", (plate,)).fetchone()
            if row is None:
                raise ParkingError(f"la patente {plate} no figura adentro del estacionamiento.")
            conn.execute("UPDATE entries SET exit_time=? WHERE id=?", (_iso(now), row[0]))
        return _entry(row)

    def _free_spot(self, conn, covered: bool | None, now: datetime.datetime, plate: str | None):
        """(id, covered) of the first free spot of the kind, or None. Call inside a write transaction."""
        return conn.execute(_FREE_SQL + " ORDER BY s.covered, s.id LIMIT 1",
                            {"now": _iso(now), "plate": plate, "covered": covered}).fetchone()


def open_lot(path: str | Path, spots: int, covered: int, say=print) -> Parking:
    """The lot's database for a command's `--db`; a new file gets `spots` spots, `covered` of them covered.
    Every problem is a ParkingError naming the option and the file."""
    try:
        parking = Parking(path)
        if parking.ensure_spots(spots, covered):
            say(f"Base nueva {path}: {spots} lugares ({covered} techados).")
    except ParkingError as e:
        raise ParkingError(f"--db {path}: {e}") from None
    except (OSError, sqlite3.Error) as e:
        raise ParkingError(f"--db {path}: no se pudo abrir la base del estacionamiento ({e}).") from None
    return parking


def check_ours(path: Path) -> None:
    """Raises NotOurs unless `path` is missing, empty, or a lot's database: stamped with our application
    id, or (made before the stamp) an unstamped SQLite file with exactly our tables, or none at all."""
    if path.is_dir():
        raise NotOurs("es una carpeta; pasá la ruta de un archivo (si no existe, se crea).")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        header = f.read(100)
    if not header.startswith(SQLITE_MAGIC):
        raise NotOurs("no es una base SQLite; no se tocó. Pasá la base del estacionamiento u otro "
                      "archivo (si no existe, se crea).")
    if int.from_bytes(header[68:72], "big") == APPLICATION_ID:  # the header's PRAGMA application_id
        return
    # Read-only, so no recovery or checkpoint writes to someone else's file. Without a -wal file there is
    # nothing beyond the file itself to read: immutable also skips locks and leaves no -shm/-wal behind.
    wal = path.with_name(path.name + "-wal").exists()
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{'' if wal else '&immutable=1'}", uri=True)
        try:
            app_id = _stamp(conn)[0]  # a stamp still in the WAL (not checkpointed) is seen here
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")]
            columns = {n: {r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')} for n in names
                       if n in TABLES}
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise NotOurs(f"la base SQLite está dañada o no se puede leer ({e}); no se tocó.") from None
    if app_id == APPLICATION_ID:
        return
    if app_id == 0 and (not names or (set(names) == set(TABLES) and columns == TABLES)):
        return
    shown = ", ".join(sorted(names)[:5]) + (", …" if len(names) > 5 else "")
    why = f"es de otro programa (tablas: {shown})" if names else "es de otro programa"
    raise NotOurs(f"no es una base del estacionamiento: {why}; no se tocó. Pasá la base del "
                  "estacionamiento u otro archivo (si no existe, se crea).")


def _stamp(conn) -> tuple[int, int]:
    return conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0]


# A spot is free when no car is in it and no other plate's open reservation holds it
# (:covered NULL = either kind).
_FREE_SQL = """
SELECT s.id, s.covered FROM spots s
WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.spot = s.id AND e.exit_time IS NULL)
  AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.spot = s.id AND r.entry_id IS NULL AND r.until > :now
                  AND (:plate IS NULL OR r.plate <> :plate))
  AND (:covered IS NULL OR s.covered = :covered)"""


def _entry(row) -> Entry:
    return Entry(row[0], row[1], row[2], bool(row[3]), datetime.datetime.fromisoformat(row[4]),
                 datetime.datetime.fromisoformat(row[5]), row[6])
