import numpy as np

from keras_drnas.plots.heatmap import mean_op_weights, op_weight_heatmap
from keras_drnas.plots.run_files import load_run, space_of
from keras_drnas.plots.style import save_figure
from keras_drnas.search_space import derive_genotype
from tests.plots.pictures import assert_picture


def test_the_mean_weights_derive_the_run_genotype(nb201_run, darts_run):
    for run_dir in (nb201_run, darts_run):
        run = load_run(str(run_dir))
        weights = {k: mean_op_weights(v) for k, v in run.concentrations.items()}
        for matrix in weights.values():
            np.testing.assert_allclose(np.nansum(matrix, axis=1), 1.0, rtol=1e-6)
        space = space_of(run.concentrations, run.genotype)
        assert derive_genotype(space, {k: np.nan_to_num(w) for k, w in weights.items()}) == run.genotype


def test_heatmap_panels_annotate_weights_and_pruned_ops(darts_run, tmp_path):
    run = load_run(str(darts_run))
    figure = op_weight_heatmap(run.concentrations, run.genotype)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["normal cell", "reduction cell"]
    for ax, name in zip(panels, ("normal", "reduce")):
        texts = [t.get_text() for t in ax.texts]
        mask = np.asarray(run.concentrations[name]["op_mask"])
        assert len(texts) == mask.size and texts.count("pruned") == (~mask).sum() == 5
        assert ax.get_yticklabels()[0].get_text() == "2<-0"
        assert len(ax.patches) == 4  # the derived architecture's edges are outlined
    assert_picture(save_figure(figure, str(tmp_path / "weights"))[0])


def test_a_mobilenet_heatmap_tells_pruned_choices_from_those_the_shape_forbids():
    from keras_drnas.search_space import MOBILENET, Genotype

    mask = np.asarray(MOBILENET.op_mask())  # skip_connect only where a block keeps its input's shape
    mask[1, 0] = False  # pruned by progressive learning
    beta = np.ones(mask.shape)
    report = {"normal": {"op_names": list(MOBILENET.op_names), "op_mask": mask.tolist(), "concentration": beta.tolist()}}
    genotype = Genotype("mobilenet", [("mb_k3_e6", b) for b in range(MOBILENET.num_edges)])
    texts = [t.get_text() for t in op_weight_heatmap(report, genotype).axes[0].texts]
    skip, cols = MOBILENET.op_names.index("skip_connect"), MOBILENET.num_ops
    assert [texts[row * cols + skip] for row in range(4)] == ["n/a", "0.167", "n/a", "0.143"]  # 0, 2 start stages
    assert texts[cols] == "pruned" and texts.count("pruned") == 1 and texts[cols + 1] == "0.167"
