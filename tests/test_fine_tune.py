"""The real fine_tune.py entry point, run as a subprocess on real (espeak-ng) audio."""

import math
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf
import torch
import whisper

import comun
import fine_tune
from conftest import ROOT, RunsCode, run
from conftest import train as _train
from corpus import datos
from modelo import contexto, pesos
from modelo.audio import log_mel


def _assert_only_trainable_changed(before: dict, after: dict, frozen_prefixes: tuple[str, ...]):
    changed = []
    for name, tensor in before.items():
        same = torch.equal(tensor, after[name].float())
        if name.startswith(frozen_prefixes):
            assert same, f"{name} is frozen but changed"
        elif not same:
            changed.append(name)
    trainable = [n for n in before if not n.startswith(frozen_prefixes)]
    assert set(changed) == set(trainable), sorted(set(trainable) - set(changed))[:5]


def test_bad_options_are_all_reported_at_once(tmp_path):
    result = run(["fine_tune.py", "--batch-size", "dos", "--freeze", "todo", "--learning-rate", "-1",
                  "--inventada", "3", "--train-encoder-blocks", "2", "--max-minutes", "-1", "--val-decode-max", "-1",
                  "--data-dir", str(tmp_path / "nada")])
    assert result.returncode == 2
    for fragment in ("--batch-size: se esperaba un entero", "--freeze debe ser", "--learning-rate debe ser positivo",
                     "opción desconocida: --inventada", "no tiene transcripciones.tsv",
                     "--train-encoder-blocks va con --freeze encoder", "--max-minutes no puede ser negativo",
                     "--val-decode-max no puede ser negativo"):
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_in_process_run_raises_every_problem_and_writes_nothing(tmp_path):
    """What the demo calls: fine_tune.run(Config) raises (it never ends the process) before writing config.json."""
    config = comun.Config(data_dir=str(tmp_path / "nada"), artifacts_dir=str(tmp_path / "artifacts"), batch_size=0,
                          keep_delta=0.0)
    with pytest.raises(fine_tune.UsageError) as raised:
        fine_tune.run(config)
    problems = "\n".join(raised.value.problems)
    assert "--batch-size debe ser al menos 1" in problems and "--keep-delta 0: tiene que ser mayor que 0" in problems
    assert "no tiene transcripciones.tsv" in problems
    assert not (tmp_path / "artifacts").exists()


def test_a_bad_resume_checkpoint_is_refused_before_any_work_and_runs_nothing(tmp_path):
    """--resume used to build the whole encoder cache, then die unpickling; a hostile file ran its code."""
    marker = tmp_path / "ejecutado"
    torch.save({"state_dict": {}, "whisper_dims": {}, "loops": {}, "optimizer_states": [], "x": RunsCode(marker)},
               tmp_path / "hostil.ckpt")
    (tmp_path / "roto.ckpt").write_bytes(b"PK\x03\x04 cortado")
    torch.save({"dims": {}, "model_state_dict": {}}, tmp_path / "modelo.pt")
    for name, says in (("hostil.ckpt", "ejecutar código"), ("roto.ckpt", "No se pudo leer"),
                       ("modelo.pt", "no es un checkpoint de entrenamiento")):
        result = run(["fine_tune.py", "--data-dir", str(tmp_path / "nada"), "--artifacts-dir", str(tmp_path / "art"),
                      "--resume", str(tmp_path / name)])
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and name in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "art").exists()


def test_a_run_that_fails_at_once_keeps_the_last_runs_config(tiny_whisper_pt, tmp_path):
    """config.json is written once the data and the weights are known good, not before."""
    data = tmp_path / "datos"
    (data / "audios").mkdir(parents=True)
    (data / "transcripciones.tsv").write_text("falta_1\thola\nfalta_2\tchau\n", encoding="utf-8")
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "config.json").write_text('{"de": "la corrida anterior"}')
    config = comun.Config(data_dir=str(data), artifacts_dir=str(artifacts), model_name=str(tiny_whisper_pt),
                          num_worker=0)
    with pytest.raises(fine_tune.TrainingError, match="audio faltante"):
        fine_tune.run(config)
    assert (artifacts / "config.json").read_text() == '{"de": "la corrida anterior"}'


def test_every_config_field_is_one_flag_with_its_own_help():
    """One source of truth: each Config field's default and Spanish help become its flag."""
    import dataclasses

    actions = {a.dest: a for a in fine_tune.build_parser()._actions}
    for field in dataclasses.fields(comun.Config):
        action = actions[field.name]
        assert action.option_strings == ["--" + field.name.replace("_", "-")]
        assert action.default == field.default and action.help == field.metadata["help"] and action.help


def test_audio_context_errors_come_with_the_others(tmp_path):
    result = run(["fine_tune.py", "--audio-context", "45", "--data-dir", str(tmp_path)])
    assert result.returncode == 2 and "--audio-context 45: tiene que estar entre 1 y 30" in result.stderr
    result = run(["fine_tune.py", "--audio-context", "10", "--pack-seconds", "28", "--data-dir", str(tmp_path)])
    assert result.returncode == 2 and "--pack-seconds 28 no entra en --audio-context 10" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.voz
def test_short_audio_context_trains_on_its_own_cache_and_the_models_record_it(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "3", "--audio-context", "auto",
                    "--train-encoder-blocks", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    # One cache per window the clips need (a directory ending "-Ns"; without it, the 30 s one), none other.
    windows = {int(m[1]) if (m := re.search(r"-(\d+)s$", p.name)) else 30
               for p in (data / ".cache_encoder").iterdir() if any(p.glob("shard-*.npy"))}
    needed = {contexto.training_window("auto", sf.info(wav).duration) for wav in (data / "audios").glob("*.wav")}
    assert windows == needed and min(needed) == 10, (windows, needed)
    artifacts = tmp_path / "artifacts"
    for path in (artifacts / "last.ckpt", artifacts / "modelo-ultimo.pt"):
        assert pesos.load_whisper(path).audio_context == "auto", path


def test_help_is_in_spanish():
    result = run(["fine_tune.py", "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith("uso: fine_tune.py") and "--num-train-epochs" in result.stdout
    assert "mostrar esta ayuda" in result.stdout


@pytest.mark.voz
def test_tiny_run_writes_checkpoints_logs_and_exports(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "6", "--learning-rate", "1e-3")
    assert result.returncode == 0, result.stderr[-3000:]
    artifacts = tmp_path / "artifacts"
    assert (data / "particion.tsv").exists()
    assert sorted(p.name for p in artifacts.glob("epoch-*.ckpt")), "no per-epoch checkpoint"
    assert (artifacts / "last.ckpt").exists() and (artifacts / "config.json").exists()
    assert "Caché del encoder:" in result.stdout and list((data / ".cache_encoder").rglob("shard-*.npy"))
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))
    before = whisper.load_model(str(tiny_whisper_pt), device="cpu").state_dict()
    for name in ("modelo-ultimo.pt", "modelo-mejor.pt"):
        exported = whisper.load_model(str(artifacts / name), device="cpu")
        _assert_only_trainable_changed(before, exported.state_dict(), ("encoder.", "decoder.token_embedding."))
    # The Lightning checkpoint itself loads through the one strict path, with the trained weights.
    from_ckpt = pesos.load_whisper(artifacts / "last.ckpt").state_dict()
    last = whisper.load_model(str(artifacts / "modelo-ultimo.pt"), device="cpu").state_dict()
    assert all(torch.equal(from_ckpt[k], last[k]) for k in last)


@pytest.mark.base
@pytest.mark.voz
def test_base_run_changes_only_the_decoder(synth_dir, tmp_path):
    """The issue's check with the real bundled base weights (few steps to keep CI short)."""
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, "base", tmp_path, "--max-steps", "2", "--num-train-epochs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    before = pesos.load_whisper("base").state_dict()
    after = whisper.load_model(str(tmp_path / "artifacts" / "modelo-ultimo.pt"), device="cpu").state_dict()
    _assert_only_trainable_changed(before, after, ("encoder.", "decoder.token_embedding."))


@pytest.mark.voz
def test_killed_run_resumes_from_last_checkpoint(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    args = [sys.executable, "fine_tune.py", "--model-name", str(tiny_whisper_pt), "--data-dir", str(data),
            "--artifacts-dir", str(tmp_path / "artifacts"), "--log-dir", str(tmp_path / "logs"), "--batch-size", "2",
            "--num-worker", "0", "--val-decode-max", "1", "--max-steps", "60", "--num-train-epochs", "100"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "artifacts" / "last.ckpt"
    deadline = time.time() + 300
    while not (tmp_path / "artifacts" / "epoch-01.ckpt").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # let the checkpoint finish writing
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = pesos.read_checkpoint(last)["global_step"]
    assert 0 < killed_at < 60
    result = run(args[1:] + ["--resume", "last"], timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Restoring states from the checkpoint" in result.stderr + result.stdout
    assert "Caché del encoder:" not in result.stdout  # the first run's cache is reused, not recomputed
    assert pesos.read_checkpoint(last)["global_step"] == 60


@pytest.mark.voz
def test_a_time_budget_lowers_the_steps_and_the_schedule_still_ends_at_zero(synth_dir, tiny_whisper_pt, tmp_path):
    """--max-minutes: far more --max-steps than fit in 20 s; it trains what fits and the LR decays to ~0 there."""
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "100000", "--num-train-epochs", "100000",
                    "--max-minutes", "0.4", "--val-decode-max", "0", "--learning-rate", "1e-3", "--log-every-n-steps", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Tope de tiempo: a este ritmo entran" in result.stdout
    trained = int(result.stdout.split("Tope de tiempo: se entrenaron ")[1].split()[0])
    assert 5 < trained < 100000
    checkpoint = pesos.read_checkpoint(tmp_path / "artifacts" / "last.ckpt")
    assert checkpoint["global_step"] == trained
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((tmp_path / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tag = next(t for t in events.Tags()["scalars"] if t.startswith("lr-AdamW"))  # one per parameter group
    rates = [e.value for e in events.Scalars(tag)]
    assert max(rates) > 0.5e-3 and rates[-1] < 0.2 * max(rates)  # the planned decay, not a cut at full speed


@pytest.mark.voz
def test_forgetting_remedies_train_and_stay_out_of_the_checkpoint(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "3", "--learning-rate", "1e-3",
                    "--distill-weight", "1.0", "--l2sp-weight", "0.01", "--log-every-n-steps", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = pesos.read_checkpoint(tmp_path / "artifacts" / "last.ckpt")
    assert all(key.startswith("model.") for key in checkpoint["state_dict"])  # no frozen teacher inside
    assert checkpoint["hyper_parameters"]["config"]["distill_weight"] == 1.0
    pesos.load_whisper(tmp_path / "artifacts" / "last.ckpt")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((tmp_path / "logs").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert {"train/kl_preentrenado", "train/deriva_l2", "train/ce"} <= set(events.Tags()["scalars"])


@pytest.mark.voz
def test_two_process_ddp_on_cpu_shares_the_batches_and_rank_0_alone_writes(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                    "--num-train-epochs", "2", "--learning-rate", "1e-3", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "GLOBAL_RANK: 1" in output and "distributed_backend=gloo" in output  # really two processes
    split = datos.read_split(data)
    n_train = sum(s == "train" for s in split.values())
    n_val = sum(s == "val" for s in split.values())
    # Each rank takes half of every length-grouped batch: 2 epochs of ceil(ceil(n/2)/2) steps, half the single-process count.
    checkpoint = pesos.read_checkpoint(tmp_path / "artifacts" / "last.ckpt")
    assert checkpoint["global_step"] == 2 * math.ceil(math.ceil(n_train / 2) / 2)
    assert {p.name for p in (tmp_path / "artifacts").glob("epoch-*.ckpt")} == {"epoch-00.ckpt", "epoch-01.ckpt"}
    # The encoder cache was built once (local rank 0, the other rank waiting), with one entry per clip.
    assert output.count("Caché del encoder:") == 1
    index = list((data / ".cache_encoder").rglob("indice.tsv"))
    assert len(index) == 1 and len(index[0].read_text().splitlines()) == n_train + n_val
    # Rank 0 alone talks, logs and exports.
    assert result.stdout.count("Partición:") == 1 and result.stdout.count("Listo.") == 1
    assert len(list((tmp_path / "logs").rglob("events.out.tfevents.*"))) == 1
    assert (tmp_path / "artifacts" / "modelo-ultimo.pt").exists()


@pytest.mark.voz
def test_augmentation_turns_the_cache_off_for_training_only_and_says_so(synth_dir, tiny_whisper_pt, tmp_path, capsys):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    config = comun.Config(model_name=str(tiny_whisper_pt), data_dir=str(data), specaugment=1, speed_perturb="0.9,1.1",
                          noise_snr=20)
    _, batches = fine_tune.setup(config)
    said = capsys.readouterr().out
    assert "Caché del encoder apagada para el entrenamiento: los aumentos (specaugment, velocidad 0.9–1.1, ruido" in said
    assert batches.cached == [batches.val_set] and batches.train_set.augment and batches.val_set.augment is None
    def plain(dataset):
        return log_mel(dataset.clips()[0].load(), 80)

    assert not torch.equal(batches.train_set[0]["mel"], plain(batches.train_set))
    assert torch.equal(batches.val_set[0]["mel"], plain(batches.val_set))
    # The real command: trains on augmented audio; only the validation clips go into the cache.
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "2", "--specaugment", "1", "--noise-snr", "20")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Caché del encoder apagada para el entrenamiento" in result.stdout
    index = next((data / ".cache_encoder").rglob("indice.tsv")).read_text().splitlines()
    assert len(index) == len(batches.val_set)


@pytest.mark.voz
def test_a_strategy_lightning_refuses_is_a_spanish_error(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--accelerator", "cpu", "--devices", "2", "--strategy", "fsdp")
    assert result.returncode == 1
    assert "Error: Lightning no acepta --accelerator cpu --devices 2 --strategy fsdp" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.voz
def test_top_encoder_block_trains_from_a_cut_cache(synth_dir, tiny_whisper_pt, tmp_path):
    """--train-encoder-blocks 1: the top block and ln_post change with the decoder, nothing below does."""
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    result = _train(data, tiny_whisper_pt, tmp_path, "--max-steps", "4", "--learning-rate", "1e-3",
                    "--train-encoder-blocks", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Caché del encoder:" in result.stdout
    before = whisper.load_model(str(tiny_whisper_pt), device="cpu").state_dict()
    top = max(int(n.split(".")[2]) for n in before if n.startswith("encoder.blocks."))
    after = whisper.load_model(str(tmp_path / "artifacts" / "modelo-ultimo.pt"), device="cpu").state_dict()
    frozen = ("decoder.token_embedding.", "encoder.conv", "encoder.positional_embedding",
              *(f"encoder.blocks.{i}." for i in range(top)))
    _assert_only_trainable_changed(before, after, frozen)
    bad = _train(data, tiny_whisper_pt, tmp_path, "--train-encoder-blocks", "9")
    assert bad.returncode == 2 and "tiene 1 bloque." in bad.stderr and "Traceback" not in bad.stderr
