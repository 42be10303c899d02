r"""Energy accounting: exact activity counters, cited hardware profiles, :math:`P = N r k E_{syn}`.

Pure functions of recorded spikes and connectivity, so simulator networks and
surrogate-trained torch modules are accounted with the same code::

    counts = count_module_activity([(spikes_in, linear1), (hidden_spikes, linear2)])
    report = energy_report(counts, duration_s=steps * dt)
    metrics.update(report.to_dict())
    figure = plot_energy(report)
"""

from .counters import (
    ActivityCounts,
    LayerCounts,
    conv2d_fan_out,
    count_from_events,
    count_from_raster,
    count_module_activity,
    event_driven_weight_updates,
    fan_out_from_csr,
    fan_out_from_dense,
    synops_from_spikes,
)
from .network import energy_from_network
from .profiles import (
    ATP_HYDROLYSIS,
    HOROWITZ_45NM,
    PROFILES,
    EnergyFigure,
    FigureKind,
    HardwareProfile,
    ProfileMode,
    get_profile,
    landauer_limit_j,
)
from .report import (
    DEFAULT_PROFILES,
    DenseEquivalent,
    EnergyReport,
    ProfileEnergy,
    analytic_power_w,
    analytic_synops,
    energy_report,
    layer_energy_j,
    plot_energy,
)

__all__ = [
    "ATP_HYDROLYSIS",
    "ActivityCounts",
    "DEFAULT_PROFILES",
    "DenseEquivalent",
    "EnergyFigure",
    "EnergyReport",
    "FigureKind",
    "HOROWITZ_45NM",
    "HardwareProfile",
    "LayerCounts",
    "PROFILES",
    "ProfileEnergy",
    "ProfileMode",
    "analytic_power_w",
    "analytic_synops",
    "conv2d_fan_out",
    "count_from_events",
    "energy_from_network",
    "count_from_raster",
    "count_module_activity",
    "energy_report",
    "event_driven_weight_updates",
    "fan_out_from_csr",
    "fan_out_from_dense",
    "get_profile",
    "landauer_limit_j",
    "layer_energy_j",
    "plot_energy",
    "synops_from_spikes",
]
