import os
import sys

from keras_drnas.utils.quiet import filtered_native_stderr


def test_native_noise_is_dropped_and_other_lines_pass(capfd):
    with filtered_native_stderr():
        os.write(2, b"I0000 00:00:1.0 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"E0000 real error the user must see\n")
        print("python warning line", file=sys.stderr)
    err = capfd.readouterr().err
    assert "oneDNN" not in err and "absl::InitializeLog" not in err
    assert "E0000 real error the user must see" in err and "python warning line" in err


def test_disabled_filter_passes_everything(capfd):
    with filtered_native_stderr(enabled=False):
        os.write(2, b"I0000 kept when not filtering\n")
    assert "I0000 kept" in capfd.readouterr().err
