"""`keras-drnas export`: a retrained model as SavedModel and TFLite (float32, int8), checked."""

import json
import os

from keras_drnas.cli.common import data_args, load_search_data

NAME, HELP = "export", "export a retrained model to SavedModel and TFLite"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="a .keras file written by retrain")
    data_args(parser)
    parser.add_argument("--check-images", type=int, default=200, help="images for calibration and agreement checks")
    parser.add_argument("--output-dir", default="runs/export", help="where the exported files go")


def run(args, model=None, search_data=None):
    """SavedModel, float32 and int8 TFLite, with sizes and agreement."""
    import keras
    import numpy as np

    from keras_drnas.derived_model import export_all
    from keras_drnas.utils.errors import InputError
    from keras_drnas.utils.files import atomic_write_text
    from keras_drnas.utils.quiet import filtered_native_stderr, wants_quiet

    if model is None:
        if not os.path.isfile(args.model):
            raise InputError(f"--model {args.model} does not exist; pass the model.keras written by retrain.")
        try:
            model = keras.models.load_model(args.model)  # built-in layers only: no custom objects
        except (ValueError, OSError) as error:  # Keras' errors for a file that is not a .keras model
            raise InputError(f"--model {args.model} is not a model.keras written by retrain: {error}") from None
    search_data = search_data or load_search_data(args)
    source = search_data.test if search_data.test is not None else search_data.validation
    images = np.stack([x for x, _ in source.take(args.check_images).as_numpy_iterator()])
    calibration = np.stack([x for x, _ in search_data.train.take(args.check_images).as_numpy_iterator()])
    with filtered_native_stderr(wants_quiet()):
        report = export_all(model, args.output_dir, images, calibration_images=calibration)
    atomic_write_text(os.path.join(args.output_dir, "export.json"), json.dumps(report, indent=1))
    for kind, entry in report.items():
        extra = ""
        if "top1_agreement" in entry:
            extra = f"  top-1 agreement with Keras {entry['top1_agreement']:.3f}"
        if "max_abs_difference" in entry:
            extra += f", max |difference| {entry['max_abs_difference']:.2e}"
        print(f"{kind:16s} {entry['bytes'] / 1024:9.1f} KiB  {entry['path']}{extra}")
    return report
