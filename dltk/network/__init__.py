"""Networks: layer arrays and graphs (MATLAB ``SeriesNetwork``/``DAGNetwork``,
``layerGraph`` and friends) and ``analyzeNetwork``."""

from .analysis import Issue, LayerInfo, NetworkAnalysis, analyzeNetwork
from .graph import LayerGraph, addLayers, connectLayers, disconnectLayers, layerGraph, removeLayers, replaceLayer
from .network import Network, assembleNetwork

__all__ = [
    "Network",
    "LayerGraph",
    "layerGraph",
    "addLayers",
    "connectLayers",
    "disconnectLayers",
    "removeLayers",
    "replaceLayer",
    "analyzeNetwork",
    "assembleNetwork",
    "NetworkAnalysis",
    "Issue",
    "LayerInfo",
]
