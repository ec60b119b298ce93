"""Quiet start-up: TensorFlow's native libraries print INFO lines to the
process's stderr before their logging is set up, whatever
TF_CPP_MIN_LOG_LEVEL says. This filters those lines out of a block, at the
file-descriptor level, and passes every other line (warnings, errors) on."""

import contextlib
import os
import re
import sys
import tempfile

# Native INFO lines (I0000 ...), absl's note that precedes them, the CPU
# feature notice, CUDA's failed probe on a machine without a GPU driver
# (`tf.config.list_physical_devices("GPU")` stays the way to check), a
# tf.data attribute that TensorFlow's own graphs carry, and TFLite's
# converter and delegate chatter.
NOISE = re.compile(
    r"^(I\d{4} |WARNING: All log messages before absl::InitializeLog|To enable the following instructions"
    r"|E\d{4} .*failed call to cuInit|E\d{4} .*NodeDef mentions attribute use_unbounded_threadpool"
    r"|fully_quantize: |INFO: Created TensorFlow Lite|Estimated count of arithmetic ops|W\d{4} .*"
    r"(tf_tfl_flatbuffer_helpers|flatbuffer_export|Statistics for quantized inputs))"
)


def wants_quiet():
    """True when the user asked TensorFlow for less logging."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")) >= 1
    except ValueError:
        return False


@contextlib.contextmanager
def filtered_native_stderr(enabled=True):
    """Captures file descriptor 2 during the block and replays all lines
    but the known start-up noise."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not NOISE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
