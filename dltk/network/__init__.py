"""Networks: layer arrays and graphs (MATLAB ``SeriesNetwork``/``DAGNetwork``,
``layerGraph`` and friends) and ``analyzeNetwork``."""

# ruff: noqa: F401  (the names are re-exported through TOP_LEVEL / __all__, built below)

from .analysis import Issue, LayerInfo, NetworkAnalysis, analyzeNetwork
from .graph import (
    GRAPH_FUNCTIONS,
    LayerGraph,
    addLayers,
    connectLayers,
    disconnectLayers,
    layerGraph,
    removeLayers,
    replaceLayer,
)
from .network import Network, assembleNetwork

#: the names that become ``dltk.<name>`` (dltk/_exports.py reads this list)
TOP_LEVEL = ("Network", "LayerGraph", *GRAPH_FUNCTIONS, "analyzeNetwork", "assembleNetwork", "NetworkAnalysis")

__all__ = [*TOP_LEVEL, "Issue", "LayerInfo"]
