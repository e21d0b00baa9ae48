"""The feature gates kube-proxy knows, and what it says of each one a configuration sets.

kube-proxy takes ``featureGates`` from its ``--config`` file (or ``--feature-gates A=true,B=false`` without one)
and hands them to component-base's feature gate (``SetFromMap``), which holds every Kubernetes gate: kube-proxy
imports pkg/features (Kubernetes' own gates, with those it relists from the apiserver, apiextensions,
controller-manager and zpages packages), client-go's gates (pkg/features registers them too), component-base's
logging gates (cmd/kube-proxy/app/server.go adds them) and the two global ones, AllAlpha and AllBeta. It refuses
to start on a gate it does not know (``unrecognized feature gate: NAME``) and on a locked gate set to the other
value (``cannot set feature gate NAME to false, feature is locked to true``); setting a GA or deprecated gate is
a warning (``It will be removed in a future release``). Where kube-proxy stops at the first unknown gate, in Go's
random map order, every problem is reported here, each on its line.

:data:`GATES` is each gate as it stands at 1.34, the reference's release (the version kube-proxy emulates by
default): its stage, its default and whether it is locked to it. It was read from pkg/features/kube_features.go
of the 1.35 development branch (the file at the reference commit itself could not be read), each gate at its
specs for 1.34, gates that first appear in 1.35 left out; gates the 1.33 file still had and 1.35's no longer
has are kept where their removal comes after 1.34 or is not sure (a gate kube-proxy would take is never refused
here: the error would be the simulator's own).

Of them only :data:`EMULATED` change the rules kube-proxy writes; :func:`gate_settings` turns the gates a
configuration sets into the ProxyConfig fields that carry them to the proxier.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from kubeproxy_sim.errors import Severity, one_of
from kubeproxy_sim.objects.values import value_class


class Stage(StrEnum):
    ALPHA = "alpha"
    BETA = "beta"
    GA = "GA"
    DEPRECATED = "deprecated"


@value_class
class Gate:
    stage: Stage
    default: bool
    locked: bool = False  # LockToDefault: setting the other value is refused


_ALPHA = Gate(Stage.ALPHA, False)
_BETA_OFF = Gate(Stage.BETA, False)
_BETA_ON = Gate(Stage.BETA, True)
_GA = Gate(Stage.GA, True)
_GA_LOCKED = Gate(Stage.GA, True, locked=True)
_DEPRECATED_OFF = Gate(Stage.DEPRECATED, False)
_DEPRECATED_ON = Gate(Stage.DEPRECATED, True)
_DEPRECATED_OFF_LOCKED = Gate(Stage.DEPRECATED, False, locked=True)

GATES: Mapping[str, Gate] = {
    # component-base: the global toggles, and the logging gates
    "AllAlpha": _ALPHA,
    "AllBeta": _BETA_OFF,
    "ContextualLogging": _BETA_ON,
    "LoggingAlphaOptions": _ALPHA,
    "LoggingBetaOptions": _BETA_ON,
    # client-go
    "ClientsAllowCBOR": _ALPHA,
    "ClientsPreferCBOR": _ALPHA,
    "InformerResourceVersion": _ALPHA,
    "InOrderInformers": _BETA_ON,
    "WatchListClient": _BETA_OFF,
    # pkg/features
    "AllowDNSOnlyNodeCSR": _DEPRECATED_OFF,
    "AllowInsecureKubeletCertificateSigningRequests": _DEPRECATED_OFF,
    "AllowOverwriteTerminationGracePeriodSeconds": _DEPRECATED_OFF,
    "AllowServiceLBStatusOnNonLB": _DEPRECATED_OFF_LOCKED,
    "AnyVolumeDataSource": _GA_LOCKED,
    "AuthorizeNodeWithSelectors": _GA_LOCKED,
    "CPUManagerPolicyAlphaOptions": _ALPHA,
    "CPUManagerPolicyBetaOptions": _BETA_ON,
    "CPUManagerPolicyOptions": _GA_LOCKED,
    "CSIMigrationPortworx": _GA_LOCKED,
    "CSIVolumeHealth": _ALPHA,
    "ClearingNominatedNodeNameAfterBinding": _ALPHA,
    "ClusterTrustBundle": _BETA_OFF,
    "ClusterTrustBundleProjection": _BETA_OFF,
    "ContainerCheckpoint": _BETA_ON,
    "ContainerRestartRules": _ALPHA,
    "ContainerStopSignals": _ALPHA,
    "CronJobsScheduledAnnotation": _GA_LOCKED,
    "CrossNamespaceVolumeDataSource": _ALPHA,
    "CustomCPUCFSQuotaPeriod": _ALPHA,
    "DRAAdminAccess": _BETA_ON,
    "DRAConsumableCapacity": _ALPHA,
    "DRADeviceBindingConditions": _ALPHA,
    "DRADeviceTaints": _ALPHA,
    "DRAExtendedResource": _ALPHA,
    "DRAPartitionableDevices": _ALPHA,
    "DRAPrioritizedList": _BETA_ON,
    "DRAResourceClaimDeviceStatus": _BETA_ON,
    "DRASchedulerFilterTimeout": _BETA_ON,
    "DeploymentReplicaSetTerminatingReplicas": _ALPHA,
    "DevicePluginCDIDevices": _GA_LOCKED,
    "DisableAllocatorDualWrite": _GA,
    "DisableCPUQuotaWithExclusiveCPUs": _BETA_ON,
    "DisableNodeKubeProxyVersion": _DEPRECATED_ON,
    "DynamicResourceAllocation": _GA,
    "ElasticIndexedJob": _GA_LOCKED,
    "EnvFiles": _ALPHA,
    "EventedPLEG": _ALPHA,
    "ExecProbeTimeout": _GA,
    "ExternalServiceAccountTokenSigner": _BETA_ON,
    "GitRepoVolumeDriver": _DEPRECATED_OFF,
    "GracefulNodeShutdown": _BETA_ON,
    "GracefulNodeShutdownBasedOnPodPriority": _BETA_ON,
    "HPAConfigurableTolerance": _ALPHA,
    "HPAScaleToZero": _ALPHA,
    "HonorPVReclaimPolicy": _GA_LOCKED,
    "HostnameOverride": _ALPHA,
    "ImageMaximumGCAge": _BETA_ON,
    "ImageVolume": _BETA_OFF,
    "InPlacePodVerticalScaling": _BETA_ON,
    "InPlacePodVerticalScalingAllocatedStatus": _DEPRECATED_OFF,
    "InPlacePodVerticalScalingExclusiveCPUs": _ALPHA,
    "InPlacePodVerticalScalingExclusiveMemory": _ALPHA,
    "InTreePluginPortworxUnregister": _ALPHA,
    "JobBackoffLimitPerIndex": _GA_LOCKED,
    "JobManagedBy": _BETA_ON,
    "JobPodReplacementPolicy": _GA_LOCKED,
    "JobSuccessPolicy": _GA_LOCKED,
    "KubeletCgroupDriverFromCRI": _GA_LOCKED,
    "KubeletCrashLoopBackOffMax": _ALPHA,
    "KubeletEnsureSecretPulledImages": _ALPHA,
    "KubeletFineGrainedAuthz": _BETA_ON,
    "KubeletInUserNamespace": _ALPHA,
    "KubeletPSI": _BETA_ON,
    "KubeletPodResourcesDynamicResources": _BETA_ON,
    "KubeletPodResourcesGet": _BETA_ON,
    "KubeletPodResourcesListUseActivePods": _DEPRECATED_ON,
    "KubeletRegistrationGetOnExistsOnly": _DEPRECATED_OFF,
    "KubeletSeparateDiskGC": _BETA_ON,
    "KubeletServiceAccountTokenForCredentialProviders": _BETA_ON,
    "KubeletTracing": _GA_LOCKED,
    "LoadBalancerIPMode": _GA_LOCKED,
    "LocalStorageCapacityIsolationFSQuotaMonitoring": _BETA_OFF,
    "LogarithmicScaleDown": _GA_LOCKED,
    "MatchLabelKeysInPodAffinity": _GA_LOCKED,
    "MatchLabelKeysInPodTopologySpread": _BETA_ON,
    "MatchLabelKeysInPodTopologySpreadSelectorMerge": _BETA_ON,
    "MaxUnavailableStatefulSet": _ALPHA,
    "MemoryManager": _GA_LOCKED,
    "MemoryQoS": _ALPHA,
    "MultiCIDRServiceAllocator": _GA_LOCKED,
    "MutableCSINodeAllocatableCount": _BETA_OFF,
    "NFTablesProxyMode": _GA_LOCKED,
    "NodeInclusionPolicyInPodTopologySpread": _GA_LOCKED,
    "NodeLogQuery": _BETA_OFF,
    "NodeSwap": _GA_LOCKED,
    "NominatedNodeNameForExpectation": _ALPHA,
    "OrderedNamespaceDeletion": _GA_LOCKED,
    "PodAndContainerStatsFromCRI": _ALPHA,
    "PodCertificateRequest": _ALPHA,
    "PodDeletionCost": _BETA_ON,
    "PodDisruptionConditions": _GA_LOCKED,
    "PodIndexLabel": _GA_LOCKED,
    "PodLevelResources": _BETA_ON,
    "PodLifecycleSleepAction": _GA_LOCKED,
    "PodLifecycleSleepActionAllowZero": _GA_LOCKED,
    "PodLogsQuerySplitStreams": _ALPHA,
    "PodObservedGenerationTracking": _BETA_ON,
    "PodReadyToStartContainersCondition": _BETA_ON,
    "PodSchedulingReadiness": _GA_LOCKED,
    "PodTopologyLabelsAdmission": _ALPHA,
    "PortForwardWebsockets": _BETA_ON,
    "PreferSameTrafficDistribution": _BETA_ON,
    "PreventStaticPodAPIReferences": _BETA_ON,
    "ProcMountType": _BETA_ON,
    "QOSReserved": _ALPHA,
    "RecoverVolumeExpansionFailure": _GA_LOCKED,
    "RecursiveReadOnlyMounts": _GA_LOCKED,
    "ReduceDefaultCrashLoopBackOffDecay": _ALPHA,
    "RelaxedDNSSearchValidation": _GA_LOCKED,
    "RelaxedEnvironmentVariableValidation": _GA_LOCKED,
    "RelaxedServiceNameValidation": _ALPHA,
    "ReloadKubeletServerCertificateFile": _BETA_ON,
    "ResourceHealthStatus": _ALPHA,
    "RotateKubeletServerCertificate": _BETA_ON,
    "RuntimeClassInImageCriApi": _ALPHA,
    "SELinuxChangePolicy": _BETA_ON,
    "SELinuxMount": _BETA_OFF,
    "SELinuxMountReadWriteOncePod": _BETA_ON,
    "SchedulerAsyncAPICalls": _BETA_OFF,
    "SchedulerAsyncPreemption": _BETA_ON,
    "SchedulerPopFromBackoffQ": _BETA_ON,
    "SchedulerQueueingHints": _GA_LOCKED,
    "SeparateTaintEvictionController": _GA_LOCKED,
    "ServiceAccountNodeAudienceRestriction": _BETA_ON,
    "ServiceAccountTokenJTI": _GA_LOCKED,
    "ServiceAccountTokenNodeBinding": _GA_LOCKED,
    "ServiceAccountTokenNodeBindingValidation": _GA_LOCKED,
    "ServiceAccountTokenPodNodeInfo": _GA_LOCKED,
    "ServiceTrafficDistribution": _GA_LOCKED,
    "SidecarContainers": _GA_LOCKED,
    "SizeMemoryBackedVolumes": _GA_LOCKED,
    "StatefulSetAutoDeletePVC": _GA_LOCKED,
    "StatefulSetSemanticRevisionComparison": _BETA_ON,
    "StatefulSetStartOrdinal": _GA_LOCKED,
    "StorageCapacityScoring": _ALPHA,
    "StorageNamespaceIndex": _DEPRECATED_ON,
    "StorageVersionMigrator": _ALPHA,
    "StreamingCollectionEncodingToJSON": _GA_LOCKED,
    "StreamingCollectionEncodingToProtobuf": _GA_LOCKED,
    "StrictIPCIDRValidation": _ALPHA,
    "SupplementalGroupsPolicy": _BETA_ON,
    "SystemdWatchdog": _BETA_ON,
    "TopologyAwareHints": _GA_LOCKED,
    "TopologyManagerPolicyAlphaOptions": _ALPHA,
    "TopologyManagerPolicyBetaOptions": _BETA_ON,
    "TopologyManagerPolicyOptions": _GA,
    "TranslateStreamCloseWebsocketRequests": _BETA_ON,
    "UserNamespacesPodSecurityStandards": _ALPHA,
    "UserNamespacesSupport": _BETA_ON,
    "VolumeAttributesClass": _GA,
    "WinDSR": _GA_LOCKED,
    "WinOverlay": _GA_LOCKED,
    "WindowsCPUAndMemoryAffinity": _ALPHA,
    "WindowsGracefulNodeShutdown": _BETA_ON,
    "WindowsHostNetwork": _DEPRECATED_OFF,
    # relisted by pkg/features from apiextensions-apiserver, the generic apiserver, the controller manager, zpages
    "CRDValidationRatcheting": _GA_LOCKED,
    "CustomResourceFieldSelectors": _GA_LOCKED,
    "APIResponseCompression": _BETA_ON,
    "APIServerIdentity": _BETA_ON,
    "APIServerTracing": _GA_LOCKED,
    "APIServingWithRoutine": _ALPHA,
    "AggregatedDiscoveryRemoveBetaType": _DEPRECATED_ON,
    "AllowParsingUserUIDFromCertAuth": _BETA_ON,
    "AllowUnsafeMalformedObjectDeletion": _ALPHA,
    "AnonymousAuthConfigurableEndpoints": _GA_LOCKED,
    "AuthorizeWithSelectors": _GA_LOCKED,
    "BtreeWatchCache": _GA_LOCKED,
    "CBORServingAndStorage": _ALPHA,
    "ConcurrentWatchObjectDecode": _BETA_OFF,
    "ConsistentListFromCache": _GA_LOCKED,
    "CoordinatedLeaderElection": _BETA_OFF,
    "DeclarativeValidation": _BETA_ON,
    "DeclarativeValidationTakeover": _BETA_OFF,
    "DetectCacheInconsistency": _BETA_ON,
    "KMSv1": _DEPRECATED_OFF,
    "ListFromCacheSnapshot": _BETA_ON,
    "MutatingAdmissionPolicy": _BETA_OFF,
    "OpenAPIEnums": _BETA_ON,
    "RemoteRequestHeaderUID": _BETA_ON,
    "ResilientWatchCacheInitialization": _GA_LOCKED,
    "RetryGenerateName": _GA_LOCKED,
    "SeparateCacheWatchRPC": _DEPRECATED_OFF,
    "SizeBasedListCostEstimate": _BETA_ON,
    "StorageVersionAPI": _ALPHA,
    "StorageVersionHash": _BETA_ON,
    "StrictCostEnforcementForVAP": _GA_LOCKED,
    "StrictCostEnforcementForWebhooks": _GA_LOCKED,
    "StructuredAuthenticationConfiguration": _GA_LOCKED,
    "StructuredAuthenticationConfigurationEgressSelector": _BETA_ON,
    "StructuredAuthorizationConfiguration": _GA_LOCKED,
    "TokenRequestServiceAccountUIDValidation": _BETA_ON,
    "UnauthenticatedHTTP2DOSMitigation": _BETA_ON,
    "UnknownVersionInteroperabilityProxy": _ALPHA,
    "WatchCacheInitializationPostStartHook": _BETA_OFF,
    "WatchFromStorageWithoutResourceVersion": _DEPRECATED_OFF_LOCKED,
    "WatchList": _BETA_ON,
    "CloudControllerManagerWebhook": _ALPHA,
    "ComponentFlagz": _ALPHA,
    "ComponentStatusz": _ALPHA,
}

# The gates that change what kube-proxy writes, each with the ProxyConfig field that carries it to the proxier
EMULATED = {"PreferSameTrafficDistribution": "prefer_same_traffic_distribution"}

_STAGE_SWITCHES = {Stage.ALPHA: "AllAlpha", Stage.BETA: "AllBeta"}


def enabled(gates: Mapping[str, bool], name: str) -> bool:
    """Whether gate ``name`` is on with ``gates`` set, as component-base's feature gate decides it: the gate's own
    value, else AllAlpha's or AllBeta's for a gate at that stage (they set every such gate not set itself), else
    its default. (An emulated gate is never a locked one, which cannot change what kube-proxy does.)"""
    if name in gates:
        return gates[name]
    gate = GATES[name]
    return gates.get(_STAGE_SWITCHES.get(gate.stage, ""), gate.default)


def gate_settings(gates: Mapping[str, bool]) -> dict[str, bool]:
    """The ProxyConfig fields of the emulated gates, as ``gates`` leave them (none when no gate is set)."""
    return {field: enabled(gates, name) for name, field in EMULATED.items()} if gates else {}


def gate_problems(gates: Mapping[str, bool]) -> list[tuple[str, str, Severity]]:
    """(gate, what is wrong, severity) for each gate of ``gates`` kube-proxy refuses or warns about."""
    found: list[tuple[str, str, Severity]] = []
    for name, value in gates.items():
        gate = GATES.get(name)
        if not name.strip():  # ("=true": kube-proxy looks up "" and says "unrecognized feature gate: ")
            found.append((name, "an empty gate name, which kube-proxy refuses to start with (an unrecognized feature "
                          "gate); expected a gate's name, such as NodeSwap", Severity.ERROR))
        elif gate is None:
            found.append((name, f"unrecognized feature gate, which kube-proxy refuses to start with; expected one "
                          f"of {one_of(name, GATES, 'gates of 1.34')}", Severity.ERROR))
        elif gate.locked and value != gate.default:
            word = str(gate.default).lower()
            found.append((name, f"cannot be set to {str(value).lower()}: the gate is {gate.stage} and locked to "
                          f"{word}, which kube-proxy refuses to start with; expected {word} or no entry",
                          Severity.ERROR))
        elif gate.stage in (Stage.GA, Stage.DEPRECATED):
            found.append((name, f"the gate is {gate.stage} and will be removed in a future release (kube-proxy "
                          "warns when it is set)", Severity.WARNING))
    return found

