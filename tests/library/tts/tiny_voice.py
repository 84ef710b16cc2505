"""A tiny piper voice built with `onnx`, so the real PiperVoice loading and synthesis run.

The model takes the same inputs a real piper voice takes (input, input_lengths, scales and,
for multi-speaker voices, sid) and returns audio shaped [1, 1, samples]. Its "speech" is
one 256-sample tone burst per phoneme id, loud in proportion to the id (shifted by the
speaker id): a deterministic function of the text, exactly as long as its phoneme ids.
"""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE_RATE = 22050
SAMPLES_PER_ID = 256
NUM_SYMBOLS = 256


def build_tiny_voice(
    directory: Path,
    name: str = "en_US-tiny-x_low",
    *,
    sample_rate: int = SAMPLE_RATE,
    speakers: tuple[str, ...] = (),
) -> Path:
    """Write <name>.onnx and <name>.onnx.json into directory; return the model path."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    tone = np.sin(2 * np.pi * 440 * np.arange(SAMPLES_PER_ID) / sample_rate)
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["ids", "one"], ["ids_plus_one"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(float(NUM_SYMBOLS), np.float32), "symbols"),
        numpy_helper.from_array(np.array([2], np.int64), "last_axis"),
        numpy_helper.from_array(tone.astype(np.float32).reshape(1, -1), "tone"),
        numpy_helper.from_array(np.array([1, 1, -1], np.int64), "audio_shape"),
    ]
    if speakers:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        initializers.append(numpy_helper.from_array(np.array(64.0, np.float32), "speaker_offset"))
        nodes += [
            helper.make_node("Cast", ["sid"], ["sid_float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["sid_float", "speaker_offset"], ["speaker_shift"]),
            helper.make_node("Add", ["ids_plus_one", "speaker_shift"], ["loudness"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["ids_plus_one"], ["loudness"]))
    nodes += [
        helper.make_node("Div", ["loudness", "symbols"], ["amplitude"]),
        helper.make_node("Unsqueeze", ["amplitude", "last_axis"], ["amplitude_column"]),
        helper.make_node("MatMul", ["amplitude_column", "tone"], ["bursts"]),
        helper.make_node("Reshape", ["bursts", "audio_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_piper_voice",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by the older onnxruntime builds on a Pi
    onnx.checker.check_model(model)

    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{name}.onnx"
    onnx.save(model, str(model_path))
    language = name.split("-", 1)[0]
    config = {
        "audio": {"sample_rate": sample_rate, "quality": "x_low"},
        "espeak": {"voice": "en-us"},
        "language": {"code": language, "family": language.split("_")[0]},
        "dataset": "tiny",
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "num_symbols": NUM_SYMBOLS,
        "num_speakers": max(1, len(speakers)),
        "speaker_id_map": {speaker: index for index, speaker in enumerate(speakers)},
        "piper_version": "1.0.0",
    }
    (directory / f"{name}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return model_path
