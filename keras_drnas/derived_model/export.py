"""Shipping the derived network: .keras, SavedModel and TFLite (float32, int8)."""

import contextlib
import io
import os
import warnings

import numpy as np

from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_write_bytes
from keras_drnas.utils.optional import require_tensorflow_backend, tensorflow as tf
from keras_drnas.utils.quiet import filtered_native_stderr


EXPORT_HINT = "save the network as .keras (network.model.save) and export that file with KERAS_BACKEND=tensorflow"


def export_saved_model(model, directory):
    """A TF SavedModel for serving (`model.export`)."""
    require_tensorflow_backend("SavedModel export", EXPORT_HINT)
    model.export(directory, format="tf_saved_model", verbose=False)
    return directory


def to_tflite(model, quantization=None, representative_images=None):
    """Converts a Keras model to a TFLite flatbuffer with built-in ops only.

    Args:
        quantization: None (float32) or `"int8"`: full-integer post-training
            quantization, float32 input and output kept for convenience.
        representative_images: float32 images for the int8 calibration.
    """
    require_tensorflow_backend("TFLite export", EXPORT_HINT)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the exported signature
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "int8":
        if representative_images is None or len(representative_images) == 0:
            raise InputError("int8 quantization needs representative_images for calibration.")
        images = np.asarray(representative_images, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif quantization is not None:
        raise InputError(f"quantization must be None or 'int8', got {quantization!r}.")
    with warnings.catch_warnings(), filtered_native_stderr(), contextlib.redirect_stdout(io.StringIO()):
        # The float32 input and output are deliberate, so no input statistics are given.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def run_tflite(flatbuffer, images):
    """Outputs of a TFLite model on a batch of images, one image at a time."""
    from ai_edge_litert.interpreter import Interpreter

    with filtered_native_stderr():  # the delegate announces itself on stderr
        interpreter = Interpreter(model_content=flatbuffer)
        interpreter.allocate_tensors()
        source = interpreter.get_input_details()[0]
        target = interpreter.get_output_details()[0]
        outputs = []
        for image in np.asarray(images, np.float32):
            interpreter.set_tensor(source["index"], image[None])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(target["index"])[0])
    return np.stack(outputs)


def export_all(model, output_dir, images, name="model", calibration_images=None):
    """Writes `.keras`, SavedModel, float32 and int8 TFLite files and checks
    each TFLite file against the Keras model on `images`.

    Args:
        images: held-out inputs for the agreement checks.
        calibration_images: real inputs for the int8 calibration (the
            representative dataset); default: `images`.

    Returns a report: paths, sizes in bytes, the largest float32 deviation
    and the int8 top-1 agreement.
    """
    require_tensorflow_backend("Export", EXPORT_HINT)  # before anything is written
    os.makedirs(output_dir, exist_ok=True)
    images = np.asarray(images, np.float32)
    expected = model.predict(images, verbose=0)
    report = {}
    keras_path = os.path.join(output_dir, f"{name}.keras")
    model.save(keras_path)
    report["keras"] = {"path": keras_path, "bytes": os.path.getsize(keras_path)}
    saved_model = export_saved_model(model, os.path.join(output_dir, f"{name}_saved_model"))
    report["saved_model"] = {"path": saved_model, "bytes": _folder_size(saved_model)}
    for quantization in (None, "int8"):
        flatbuffer = to_tflite(model, quantization, images if calibration_images is None else calibration_images)
        suffix = "int8" if quantization else "float32"
        path = os.path.join(output_dir, f"{name}_{suffix}.tflite")
        atomic_write_bytes(path, flatbuffer)
        outputs = run_tflite(flatbuffer, images)
        entry = {"path": path, "bytes": len(flatbuffer)}
        entry["top1_agreement"] = float(np.mean(outputs.argmax(-1) == expected.argmax(-1)))
        if quantization is None:
            entry["max_abs_difference"] = float(np.max(np.abs(outputs - expected)))
        report[f"tflite_{suffix}"] = entry
    return report


def _folder_size(directory):
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(directory) for f in files)
