"""ResNet-18/34 in plain torch, with torchvision's module and parameter names.

This machine has no CPU build of torchvision, yet ACT and Diffusion Policy encode images with
``torchvision.models.resnet18``; LeRobot's checkpoints name the backbone's tensors after its
modules (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0`` ...). The classes here
build the same modules under the same names, so a ``state_dict`` maps 1:1 both ways.

Design decisions:

* :class:`ResNet` is torchvision's ``ResNet`` with ``BasicBlock`` only (resnet18 and resnet34);
  a ``width`` other than 64 and the one-block-per-stage ``resnet10`` are compact variants with
  the same module names, for training from scratch on a CPU where ResNet-18 is too slow
  (96x96 camera, batch 16: see ``benchmarks/act_pickcube.py``);
  initialisation follows torchvision (Kaiming-normal convolutions in ``fan_out`` mode, norm
  weights 1 and biases 0), so a backbone trained from scratch starts where torchvision's would.
* ``norm_layer`` is a parameter, as in torchvision: ACT uses :class:`FrozenBatchNorm2d`
  (buffers ``weight``, ``bias``, ``running_mean``, ``running_var``; torchvision's formula,
  ``eps=1e-5``), Diffusion Policy ``nn.BatchNorm2d`` replaced by ``nn.GroupNorm``.
* :meth:`ResNet.features` runs up to ``layer4``, which is what both policies take
  (``IntermediateLayerGetter(..., {"layer4": ...})`` and ``children()[:-2]``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lerobot_gym.policies.config import RESNET_LAYERS, RESNET_WIDTH, parse_vision_backbone

__all__ = ["LAYERS", "BasicBlock", "FrozenBatchNorm2d", "ResNet", "resnet"]

#: blocks per stage of the BasicBlock ResNets (``resnet10`` is a compact, non-torchvision one).
LAYERS = RESNET_LAYERS


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (torchvision.ops.misc's)."""

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
    ):
        # A BatchNorm2d's counter has no meaning here (torchvision drops it the same way).
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing, unexpected, errors
        )

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock``: two 3x3 convolutions and a residual connection."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ``ResNet`` for BasicBlock depths, same submodule names and init."""

    def __init__(
        self,
        layers: tuple[int, int, int, int],
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        num_classes: int = 1000,
        width: int = RESNET_WIDTH,
    ) -> None:
        super().__init__()
        self._norm_layer = norm_layer
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False), norm_layer(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, norm_layer)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, norm_layer=norm_layer) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def trunk(self) -> list[nn.Module]:
        """The modules up to ``layer4`` in order (``children()[:-2]`` in torchvision)."""
        return [
            self.conv1,
            self.bn1,
            self.relu,
            self.maxpool,
            self.layer1,
            self.layer2,
            self.layer3,
            self.layer4,
        ]

    def features(self, x: Tensor) -> Tensor:
        """The ``layer4`` feature map, (B, 8 x width, H/32, W/32): 512 channels in resnet18."""
        for module in self.trunk():
            x = module(x)
        return x


def resnet(name: str, norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d) -> ResNet:
    """A ResNet from scratch (no pretrained weights: nothing is fetched).

    ``name`` is a ``vision_backbone``: ``resnet18``, ``resnet34``, or a compact ``resnet10`` /
    ``resnet18_w32`` ... (:func:`~lerobot_gym.policies.config.parse_vision_backbone`).
    """
    layers, width = parse_vision_backbone(name)
    return ResNet(layers, norm_layer=norm_layer, width=width)


class LayerFourBackbone(nn.Module):
    """torchvision's ``IntermediateLayerGetter(resnet, {"layer4": "feature_map"})``.

    Registers the trunk's modules under their ResNet names (``conv1`` ... ``layer4``, no
    ``avgpool``/``fc``), which is what ACT's ``model.backbone.*`` keys are.
    """

    def __init__(self, model: ResNet) -> None:
        super().__init__()
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            self.add_module(name, getattr(model, name))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        for module in self.children():
            x = module(x)
        return {"feature_map": x}
