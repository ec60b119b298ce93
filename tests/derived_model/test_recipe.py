from keras_drnas.derived_model import RetrainRecipe


def test_paper_recipes_carry_the_papers_settings():
    cifar = RetrainRecipe.paper_cifar()
    assert (cifar.epochs, cifar.batch_size, cifar.learning_rate, cifar.weight_decay) == (600, 96, 0.025, 3e-4)
    assert (cifar.cutout, cifar.drop_path, cifar.auxiliary_weight, cifar.label_smoothing) == (16, 0.3, 0.4, 0.0)
    imagenet = RetrainRecipe.paper_imagenet()
    assert (imagenet.epochs, imagenet.learning_rate, imagenet.weight_decay, imagenet.label_smoothing) == (
        250, 0.5, 3e-5, 0.1)
    cpu = RetrainRecipe.cpu(epochs=3, augment=False)
    assert cpu.epochs == 3 and not cpu.augment and cpu.cutout == 0
