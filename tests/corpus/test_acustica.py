"""corpus/acustica.py: timbre, rooms and entrance noises, each measured on real audio."""

import random

import numpy as np
import pyroomacoustics as pra
import pytest
import soundfile as sf

from conftest import run
from corpus import acustica, sintetico

RATE = acustica.SAMPLE_RATE


def _pitch(audio: np.ndarray) -> float:
    """Median F0 (Hz) by autocorrelation over voiced 40 ms frames: enough to see a 10% shift."""
    f0 = []
    for start in range(0, len(audio) - 640, 320):
        frame = audio[start : start + 640] - audio[start : start + 640].mean()
        if np.sqrt(np.mean(frame**2)) < 0.05 * np.max(np.abs(audio)):
            continue
        ac = np.correlate(frame, frame, "full")[639:]
        low, high = RATE // 400, RATE // 70
        lag = low + int(np.argmax(ac[low:high]))
        if ac[lag] > 0.4 * ac[0]:
            f0.append(RATE / lag)
    return float(np.median(f0))


@pytest.mark.voz
def test_the_timbre_factor_moves_the_pitch_and_keeps_the_length():
    speed = 150
    plain = sintetico.synthesize("Hola, vengo a estacionar el auto una hora.", "es-419+m3", speed, 50, 0, 0.8)
    for factor in (0.9, 1.1):
        shifted = acustica.resample_factor(
            sintetico.synthesize("Hola, vengo a estacionar el auto una hora.", "es-419+m3", round(speed / factor), 50, 0, 0.8),
            factor)
        assert _pitch(shifted) / _pitch(plain) == pytest.approx(factor, abs=0.04)
        assert len(shifted) / len(plain) == pytest.approx(1.0, abs=0.08)  # the engine's pace pre-compensates


def test_a_room_reverberates_for_about_its_rt60():
    room = acustica.Room(size=(8.0, 12.0, 3.5), rt60=0.6, source=(3.0, 4.0, 1.2), mic=(3.8, 4.5, 1.4))
    rir = acustica.room_response(room)
    measured = pra.experimental.measure_rt60(rir, fs=RATE, decay_db=30)
    assert 0.35 <= measured <= 0.9, measured  # image sources with MAX_ORDER reflections: the right order of magnitude
    click = np.zeros(RATE // 2, np.float32)
    click[100] = 0.7
    wet = acustica.reverberate(click, room)
    assert np.max(np.abs(wet)) == pytest.approx(0.7, rel=1e-5)  # the peak is kept
    assert len(click) + RATE // 10 < len(wet) <= len(click) + RATE // 2  # and the tail, up to 0.5 s


@pytest.mark.parametrize("kind", acustica.NOISES)
def test_each_entrance_noise_is_mixed_at_its_snr(kind):
    speech = np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE).astype(np.float32) * 0.3
    rms = float(np.sqrt(np.mean(speech**2)))
    for snr in acustica.SNRS_DB:
        noisy = acustica.add_entrance_noise(speech, rms, kind, snr, seed=3)
        noise = noisy - speech
        measured = 20 * np.log10(rms / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
        assert measured == pytest.approx(snr, abs=0.1)
    again = acustica.add_entrance_noise(speech, rms, kind, 10.0, seed=3)
    assert np.array_equal(again, acustica.add_entrance_noise(speech, rms, kind, 10.0, seed=3))


def test_the_noises_differ_where_a_parking_entrance_does():
    """The engine hums low, the horn and beeps sit in the speech band and above: not one white noise renamed."""
    spectra = {}
    for kind in acustica.NOISES:
        noise = acustica.entrance_noise(kind, 4 * RATE, np.random.default_rng(0))
        power = np.abs(np.fft.rfft(noise)) ** 2
        freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
        spectra[kind] = power[freqs < 300].sum() / power.sum()
    assert spectra["motor"] > 0.8 and spectra["transito"] > 0.8
    assert spectra["bocina"] < spectra["motor"]
    with pytest.raises(ValueError, match="ruido desconocido"):
        acustica.entrance_noise("lluvia", 100, np.random.default_rng(0))


def test_variety_off_draws_the_same_stream_and_changes_nothing():
    on = [acustica.draw(random.Random(7)) for _ in range(1)][0]
    rng_on, rng_off = random.Random(7), random.Random(7)
    drawn_on = [acustica.draw(rng_on) for _ in range(50)]
    drawn_off = [acustica.draw(rng_off, variety=False) for _ in range(50)]
    assert rng_on.random() == rng_off.random()  # the rest of the corpus plan is the same either way
    assert all(d == acustica.Acoustics(seed=d.seed) for d in drawn_off)
    assert on == drawn_on[0]
    rooms = sum(d.room is not None for d in drawn_on) / 50
    noises = sum(d.noise is not None for d in drawn_on) / 50
    assert 0.3 < rooms < 0.7 and 0.3 < noises < 0.7
    assert all(acustica.FACTOR_RANGE[0] <= d.factor <= acustica.FACTOR_RANGE[1] for d in drawn_on)


@pytest.mark.voz
def test_sintetico_varied_and_clean_corpora_say_the_same_and_differ_in_sound(tmp_path):
    out = {}
    for mode in sintetico.ACOUSTICS:
        result = run(["sintetico.py", "--out", str(tmp_path / mode), "--n", "6", "--seed", "2", "--acustica", mode,
                      "--voices", "entrenamiento", "--sin-progreso"])
        assert result.returncode == 0, result.stderr
        out[mode] = tmp_path / mode
    assert (out["variada"] / "transcripciones.tsv").read_text() == (out["limpia"] / "transcripciones.tsv").read_text()
    differ = 0
    for wav in sorted((out["limpia"] / "audios").glob("*.wav")):
        clean, _ = sf.read(wav)
        varied, _ = sf.read(out["variada"] / "audios" / wav.name)
        differ += len(clean) != len(varied) or not np.allclose(clean, varied, atol=1e-3)
    assert differ >= 4  # timbre applies to every clip; rooms and noises to about half
    bad = run(["sintetico.py", "--out", str(tmp_path / "x"), "--motor", "ambos", "--parte-kokoro", "1.5"])
    assert bad.returncode == 2 and "--parte-kokoro 1.5: tiene que estar entre 0 y 1" in bad.stderr
