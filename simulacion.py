"""Simulated drivers against the real kiosk: `python simulacion.py --modelo base --motor ambos --sesiones 20`.

For each model and engine this starts `kiosco.py` (the real server, engine and a fresh SQLite lot in a
temporary folder) on a free port, and runs the same drivers through its HTTP API (see
estacionamiento/simulacion.py: each driver has a true ticket, speaks in a held-out voice and phrasing and
answers each confirmation truthfully). Writes simulacion.json (every turn of every session), simulacion.md
(the table) and simulacion.png under --out, and prints the table.
"""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tqdm import tqdm

from cli import SpanishParser
from corpus import kokoro, sintetico
from estacionamiento import simulacion

ROOT = Path(__file__).resolve().parent
ENGINES = {"openai": "openai", "ct2": "ctranslate2", "ctranslate2": "ctranslate2"}
START_TIMEOUT_S = 900  # a first CTranslate2 export of a fine-tuned model takes minutes on two cores


class UsageError(Exception):
    """A user mistake: printed in Spanish, exit code 1, no traceback."""


def build_parser() -> SpanishParser:
    p = SpanishParser(
        prog="simulacion.py",
        description="Conductores simulados contra el kiosco de verdad (su API HTTP, el motor y una base SQLite "
                    "nueva): cada uno tiene su ticket verdadero, habla con voces y fraseos que el entrenamiento no "
                    "vio y contesta cada confirmación con la verdad. Mide sesiones con el ticket exacto, tickets "
                    "equivocados, llamadas al personal, la patente en la primera propuesta y en dos, turnos por "
                    "sesión y la espera por turno.\n\nEjemplo:\n"
                    "  simulacion.py --modelo base,artifacts/demo/modelo-mejor.pt --motor ambos --sesiones 20")
    p.add_argument("--modelo", action="append", metavar="MODELO",
                   help="modelo del kiosco: base, un .pt/.ckpt o un directorio CTranslate2; se repite o va separado "
                        "por comas (por defecto: base)")
    p.add_argument("--motor", default="ambos", choices=["openai", "ct2", "ambos"],
                   help="qué biblioteca transcribe en el kiosco (ct2: CTranslate2 int8 en CPU)")
    p.add_argument("--sesiones", type=int, default=20, help="conductores por modelo y motor (los mismos en cada uno)")
    p.add_argument("--seed", type=int, default=0,
                   help="semilla de los conductores: tickets, fraseos y voces (por defecto: 0)")
    p.add_argument("--voces", default=None,
                   help="voces separadas por comas (espeak-ng o Kokoro, kk-…) o el grupo evaluacion (por defecto: "
                        "las de evaluación de espeak-ng, y kk-tebukuro,kk-kumo si Kokoro está instalado)")
    p.add_argument("--fraseo", default="evaluacion", choices=list(sintetico.PHRASINGS),
                   help="qué fraseos del corpus usan los conductores")
    p.add_argument("--pista", action="store_true",
                   help="cada conductor dice la patente como pide la pista del kiosco desde la primera respuesta (letra "
                        "por letra y despacio, sola): mide ese formato en todas las sesiones, no solo cuando el kiosco "
                        "la vuelve a pedir")
    p.add_argument("--intentos", type=int, default=3, help="el --intentos del kiosco: fallas antes de llamar al personal")
    p.add_argument("--ct2-dir", default=None, metavar="DIR",
                   help="dónde el kiosco exporta un .pt a CTranslate2 (por defecto, el del kiosco)")
    p.add_argument("--out", default="artifacts/simulacion", metavar="DIR",
                   help="carpeta del simulacion.json, simulacion.md y simulacion.png")
    p.add_argument("--sin-progreso", action="store_true", help="sin barras de progreso")
    return p


def models(values: list[str] | None) -> list[str]:
    out = [m.strip() for v in values or ["base"] for m in v.split(",") if m.strip()]
    if not out:
        raise UsageError("--modelo está vacío. Ejemplo: --modelo base,artifacts/demo/modelo-mejor.pt")
    return list(dict.fromkeys(out))


def voices(spec: str | None) -> list[str]:
    if spec is None:
        return simulacion.default_voices()
    engine = "ambos" if simulacion.kokoro_installed() else "espeak"  # the groups take Kokoro's voices too
    try:
        return [name for name, _ in sintetico.parse_voices(spec, sintetico.espeak_variants(), engine)]
    except sintetico.UsageError as e:
        raise UsageError(str(e).replace("--voices", "--voces")) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kiosk:
    """kiosco.py in a subprocess on a free port, with a new lot in `folder`; its output goes to a log file."""

    def __init__(self, model: str, engine: str, folder: Path, spots: int, covered: int, attempts: int,
                 ct2_dir: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "kiosco.log"
        cmd = [sys.executable, str(ROOT / "kiosco.py"), "--checkpoint", model, "--engine", engine,
               "--db", str(folder / "lote.db"), "--lugares", str(spots), "--techados", str(covered),
               "--intentos", str(attempts), "--port", str(self.port)]
        if ct2_dir:
            cmd += ["--ct2-dir", ct2_dir]
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/estado", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                    raise simulacion.SimulationError(f"el kiosco no arrancó:\n{tail}") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_one(model: str, engine: str, args, chosen_voices: list[str], speaker, log) -> dict:
    """All the drivers through one kiosk (model, engine); the drivers are the same for every kiosk."""
    drivers = simulacion.make_drivers(args.sesiones, args.seed, chosen_voices, args.fraseo, hint_first=args.pista)
    spots = max(20, 2 * args.sesiones)  # room for every driver's preference: no "¿te sirve uno descubierto?"
    with tempfile.TemporaryDirectory(prefix="simulacion-") as tmp:
        kiosk = Kiosk(model, engine, Path(tmp), spots, spots // 2, args.intentos, args.ct2_dir)
        try:
            log(f"Kiosco con {model} (motor {engine}) en {kiosk.url}: cargando el modelo…")
            kiosk.wait_ready()
            client = simulacion.KioskClient(kiosk.url)
            sessions = []
            for driver in tqdm(drivers, desc=f"{Path(model).name} {engine}", unit="sesión", disable=args.sin_progreso):
                sessions.append(simulacion.run_session(client, driver, speaker))
        except simulacion.SimulationError as e:  # the kiosk died mid-run: what it said says why
            kiosk.stop()
            tail = kiosk.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise simulacion.SimulationError(f"{e}\nLo último que dijo el kiosco:\n{tail}") from None
        finally:
            kiosk.stop()
    summary = simulacion.summarize(sessions)
    return {"modelo": model, "motor": "ct2" if engine == "ctranslate2" else engine, "resumen": summary,
            "metas": simulacion.meets(summary), "sesiones": [s.__dict__ for s in sessions]}


def plot(runs: list[dict], path: Path) -> Path:
    import matplotlib  # the file backend must be chosen before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{Path(r['modelo']).name}\n{r['motor']}" for r in runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(9, 3 * len(runs) + 4), 5.5))
    bottom = [0.0] * len(runs)
    colors = {"exacto": "#2e7d32", "equivocado": "#c62828", "personal": "#f9a825", "inconcluso": "#757575"}
    names = {"exacto": "ticket exacto", "equivocado": "ticket equivocado", "personal": "personal",
             "inconcluso": "sin terminar"}
    for outcome in simulacion.OUTCOMES:
        values = [100 * r["resumen"][outcome] / max(1, r["resumen"]["sesiones"]) for r in runs]
        left.bar(labels, values, bottom=bottom, color=colors[outcome], label=names[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.axhline(95, color="black", linestyle="--", linewidth=1, label="meta: 95% exactos")
    left.set_ylabel("% de las sesiones")
    left.set_title("Cómo terminó cada sesión")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    waits = [[t["espera_s"] for s in r["sesiones"] for t in s["turns"]] or [0.0] for r in runs]
    right.boxplot(waits, whis=(5, 95), showfliers=False)
    right.set_xticks(range(1, len(runs) + 1), labels)
    right.axhline(1.5, color="black", linestyle="--", linewidth=1, label="meta p95: 1,5 s")
    right.set_ylabel("segundos (caja: p25–p75; bigotes: p5–p95)")
    right.set_title("Espera por turno: de subir la respuesta al JSON siguiente", fontsize=10)
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # so that a `kill` still stops the kiosk it started (the finally in run_one)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python simulacion.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        if args.sesiones < 1 or args.intentos < 1:
            raise UsageError("--sesiones e --intentos tienen que ser al menos 1.")
        chosen_models = models(args.modelo)
        for m in chosen_models:
            if m != "base" and not Path(m).exists() and "/" in m:
                raise UsageError(f"--modelo {m}: no existe ese archivo o carpeta.")
        engines = ["openai", "ctranslate2"] if args.motor == "ambos" else [ENGINES[args.motor]]
        chosen_voices = voices(args.voces)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: es un archivo; tiene que ser una carpeta.")
        out.mkdir(parents=True, exist_ok=True)
    except UsageError as e:
        print(f"simulacion.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"simulacion.py: error: --out {args.out}: no se pudo crear ({e.strerror or e}).", file=sys.stderr)
        return 1
    log = (lambda m: None) if args.sin_progreso else (lambda m: print(m, flush=True))
    speaker = simulacion.Speaker()
    runs = []
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        for model in chosen_models:
            for engine in engines:
                runs.append(run_one(model, engine, args, chosen_voices, speaker, log))
    except (simulacion.SimulationError, kokoro.KokoroError, RuntimeError) as e:
        print(f"simulacion.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("simulacion.py: interrumpido; el kiosco que arrancó se cerró y no se escribió ningún reporte.",
              file=sys.stderr)
        return 130
    report = {"comando": command, "voces": chosen_voices, "fraseo": args.fraseo, "seed": args.seed, "pista": args.pista,
              "metas": {k: f"{op} {v}" for k, (op, v) in simulacion.TARGETS.items()}, "corridas": runs}
    (out / "simulacion.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "simulacion.md").write_text(simulacion.format_markdown(runs, command), encoding="utf-8")
    plot(runs, out / "simulacion.png")
    print()
    print(simulacion.format_table(runs))
    print(f"\nReporte: {out / 'simulacion.json'} (también simulacion.md y simulacion.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
