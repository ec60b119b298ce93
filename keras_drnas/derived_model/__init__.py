"""What is shipped: the published cells as presets, the derived network of
built-in Keras layers, retraining, and export to SavedModel and TFLite."""

from keras_drnas.derived_model.counting import count_flops, count_parameters
from keras_drnas.derived_model.drop_path import DropPathSchedule
from keras_drnas.derived_model.export import export_all, export_saved_model, run_tflite, to_tflite
from keras_drnas.derived_model.export_callback import ExportDerived
from keras_drnas.derived_model.inheritance import inherit_supernet_weights
from keras_drnas.derived_model.network import build_network
from keras_drnas.derived_model.presets import DRNAS_CIFAR10, DRNAS_IMAGENET
from keras_drnas.derived_model.recipe import RetrainRecipe
from keras_drnas.derived_model.retrain import retrain, test_accuracy
from keras_drnas.search_space.derived_network import DerivedNetwork

__all__ = [
    "DRNAS_CIFAR10", "DRNAS_IMAGENET", "DerivedNetwork", "DropPathSchedule", "ExportDerived", "RetrainRecipe",
    "build_network", "count_flops", "count_parameters", "export_all", "export_saved_model",
    "inherit_supernet_weights", "retrain", "run_tflite", "test_accuracy", "to_tflite",
]
