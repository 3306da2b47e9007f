"""The lot's SQLite rules with real processes: no double booking, a plate inside once, crashes lose nothing."""

import datetime
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from estacionamiento import lote

NOW = datetime.datetime(2025, 5, 2, 14, 0)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "lote.db"
    lote.Parking(path).create_spots(10, covered=4)
    return path


def _kiosk(path, plates, barrier, results):
    """One kiosk process: waits for the others, then assigns its plates as fast as it can."""
    parking = lote.Parking(path)
    barrier.wait()
    for plate in plates:
        try:
            entry = parking.assign_spot(plate, 60, None, NOW)
            results.put((plate, entry.spot))
        except lote.ParkingError as e:
            results.put((plate, type(e).__name__))


def _run_kiosks(path, plates_per_kiosk):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(plates_per_kiosk)), ctx.Queue()
    procs = [ctx.Process(target=_kiosk, args=(path, plates, barrier, results)) for plates in plates_per_kiosk]
    for p in procs:
        p.start()
    out = [results.get(timeout=60) for plates in plates_per_kiosk for _ in plates]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def test_four_kiosks_at_once_never_share_a_spot(db):
    # 4 processes x 4 plates = 16 cars for 10 spots, all started together.
    plates = [[f"K{k}A{i:03d}BC" for i in range(4)] for k in range(4)]
    out = _run_kiosks(db, plates)
    spots = [s for _, s in out if s not in ("NoSpot",)]
    assert len(spots) == 10 and len(set(spots)) == 10
    assert sum(s == "NoSpot" for _, s in out) == 6
    rows = lote.Parking(db).entries()
    assert sorted(e.spot for e in rows) == sorted(spots)


def test_the_same_plate_at_two_kiosks_at_once_enters_once(db):
    out = _run_kiosks(db, [["AB123CD"], ["AB123CD"], ["AB123CD"]])
    assert sorted(s for _, s in out).count("PlateInside") == 2
    assert len(lote.Parking(db).entries()) == 1


def test_a_plate_inside_is_refused_until_it_leaves(db):
    parking = lote.Parking(db)
    parking.assign_spot("AB123CD", 60, True, NOW)
    with pytest.raises(lote.PlateInside, match="AB123CD ya figura adentro"):
        parking.assign_spot("AB123CD", 30, None, NOW)
    parking.register_exit("AB123CD", NOW + datetime.timedelta(hours=1))
    assert parking.assign_spot("AB123CD", 30, None, NOW + datetime.timedelta(hours=2)).spot


def test_kinds_preference_and_a_full_kind(db):
    parking = lote.Parking(db)
    covered = [parking.assign_spot(f"CCC{i:03d}", 60, True, NOW) for i in range(4)]
    assert all(e.covered and e.spot.startswith("T") for e in covered)
    with pytest.raises(lote.NoSpot) as full:
        parking.assign_spot("DDD000", 60, True, NOW)
    assert full.value.other_kind_free and "techados" in str(full.value)
    assert parking.assign_spot("DDD000", 60, None, NOW).covered is False
    assert parking.free_spots(NOW) == {True: 0, False: 5}


def test_a_reservation_holds_its_spot_for_its_plate_only(tmp_path):
    parking = lote.Parking(tmp_path / "lote.db")
    parking.create_spots(2, covered=1)
    res = parking.reserve("XYZ789", NOW.replace(hour=18), covered=True, now=NOW)
    assert res.spot == "T01"
    with pytest.raises(lote.NoSpot):
        parking.assign_spot("AAA111", 60, True, NOW)  # the only covered spot is held
    entry = parking.assign_spot("XYZ789", None, None, NOW)
    assert (entry.spot, entry.stay_minutes, entry.reservation_id) == ("T01", 240, res.id)
    assert parking.reservation("XYZ789", NOW) is None  # used
    # an expired reservation no longer holds anything
    parking.register_exit("XYZ789", NOW)
    parking.reserve("QQQ999", NOW.replace(hour=15), covered=True, now=NOW)
    assert parking.assign_spot("AAA111", 60, True, NOW.replace(hour=16)).spot == "T01"


def _kill_9_when_inside(code: str) -> None:
    """Run `code` in a new Python, wait for it to print "dentro", and SIGKILL it there."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "dentro"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_kill_9_inside_a_transaction_keeps_committed_entries_and_frees_the_lock(db):
    # A kiosk commits one entry, then dies (SIGKILL) in the middle of its next write transaction.
    code = textwrap.dedent(f"""
        import datetime, sys, time
        from estacionamiento import lote
        p = lote.Parking({str(db)!r})
        p.assign_spot("AB123CD", 60, None, datetime.datetime(2025, 5, 2, 14, 0))
        with p._write() as conn:
            conn.execute("INSERT INTO entries(plate, arrival, expected_exit, covered, spot) "
                         "VALUES ('ZZ999ZZ', 'x', 'y', 0, 'D06')")
            print("dentro", flush=True)
            time.sleep(60)
    """)
    _kill_9_when_inside(code)
    parking = lote.Parking(db, timeout_s=5)
    assert [e.plate for e in parking.entries()] == ["AB123CD"]  # committed: kept; half-written: gone
    assert parking.assign_spot("EF456GH", 60, None, NOW).spot  # and the lot is not left locked


# --- only our own file: another program's database is refused untouched ---------------------------


def _sqlite(path, *statements):
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()
    return path


def _old_lot(path):
    """A lot's file as made before the application_id stamp: WAL mode, our tables, no stamp."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(lote.SCHEMA)
    conn.execute("INSERT INTO spots VALUES ('T01', 1), ('D01', 0)")
    conn.close()
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _app_id(path) -> int:
    return int.from_bytes(path.read_bytes()[68:72], "big")


FOREIGN = {
    "otra_app": (lambda p: _sqlite(p, "CREATE TABLE usuarios (id INTEGER PRIMARY KEY, nombre TEXT)",
                                   "INSERT INTO usuarios(nombre) VALUES ('Ana')"), "tablas: usuarios"),
    "nuestras_y_otras": (lambda p: _sqlite(_old_lot(p), "CREATE TABLE usuarios (id INTEGER)"), "usuarios"),
    "mismas_tablas_otro_id": (lambda p: _sqlite(p, "PRAGMA application_id=1234", *lote.SCHEMA.split(";")[:3]),
                              "no es una base del estacionamiento"),
    "otras_columnas": (lambda p: _sqlite(p, "CREATE TABLE spots (x)", "CREATE TABLE reservations (x)",
                                         "CREATE TABLE entries (x)"), "no es una base del estacionamiento"),
    "otra_app_wal": (lambda p: _sqlite(p, "PRAGMA journal_mode=WAL", "CREATE TABLE pedidos (id INTEGER)"),
                     "tablas: pedidos"),
    "texto": (lambda p: _write(p, b"patente;lugar\nAB123CD;T01\n" * 20), "no es una base SQLite"),
    "dañada": (lambda p: _write(p, lote.SQLITE_MAGIC + bytes(4080)), "dañada"),
}


@pytest.mark.parametrize("kind", FOREIGN)
def test_a_file_that_is_not_a_lot_is_refused_byte_for_byte_untouched(tmp_path, kind):
    make, said = FOREIGN[kind]
    path = make(tmp_path / "otra.sqlite")
    before = path.read_bytes()
    with pytest.raises(lote.NotOurs, match=said):
        lote.Parking(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["otra.sqlite"]  # no -wal/-journal left either


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(lote.NotOurs, match="carpeta"):
        lote.Parking(tmp_path)


@pytest.mark.parametrize("start", ["no_existe", "vacio", "de_antes_del_sello"])
def test_our_files_are_accepted_and_stamped(tmp_path, start):
    path = tmp_path / "lote.db"
    if start == "vacio":
        path.touch()
    elif start == "de_antes_del_sello":
        _old_lot(path)
    parking = lote.Parking(path)
    assert parking.ensure_spots(4, 2) == (start != "de_antes_del_sello")  # the old file keeps its spots
    assert _app_id(path) == lote.APPLICATION_ID
    lote.Parking(path)  # and it is accepted again, now by its stamp


def test_a_stamp_still_in_the_wal_after_a_crash_is_ours(tmp_path):
    """A new file whose creator died before any checkpoint: the stamp is only in the -wal file, and
    the read-only check still sees it (and the tables) there."""
    path = tmp_path / "lote.db"
    code = textwrap.dedent(f"""
        import sqlite3, time
        from estacionamiento import lote
        # another connection stays open, so the lot's closes are not the last one: no checkpoint
        other = sqlite3.connect({str(path)!r}, isolation_level=None)
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        lote.Parking({str(path)!r}).create_spots(2, covered=1)
        print("dentro", flush=True)
        time.sleep(60)
    """)
    _kill_9_when_inside(code)
    assert _app_id(path) != lote.APPLICATION_ID  # not checkpointed: the main file has no stamp yet
    assert lote.Parking(path).free_spots(NOW) == {True: 1, False: 1}
