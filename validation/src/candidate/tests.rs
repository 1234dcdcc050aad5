use super::*;
use crate::{
    receipt::DescriptorLayout,
    test_candidate::{RELAY_PARENT, SCHEDULING_PARENT, V2, V3, receipt_for, result},
};
use parity_scale_codec::Encode;
use polkadot_parachain_primitives::primitives::ValidationParamsExtension as RelayExtension;

fn descriptor(layout: DescriptorLayout) -> CandidateDescriptor {
    receipt_for(layout, &result()).descriptor
}

#[test]
fn each_layout_is_the_version_the_relay_chain_sees() {
    assert_eq!(
        descriptor(DescriptorLayout::V1).version(),
        CandidateDescriptorVersion::V1
    );
    assert_eq!(descriptor(V2).version(), CandidateDescriptorVersion::V2);
    assert_eq!(descriptor(V3).version(), CandidateDescriptorVersion::V3);
}

#[test]
fn a_v3_descriptor_counts_as_v1_until_the_node_feature_was_seen() {
    let v3 = descriptor(V3);
    assert_eq!(
        version_for_validation(&v3, false),
        CandidateDescriptorVersion::V1
    );
    assert_eq!(scheduling_parent(&v3, false), RELAY_PARENT);
    assert_eq!(params_extension(&v3, false), None);
    assert_eq!(
        version_for_validation(&v3, true),
        CandidateDescriptorVersion::V3
    );
    assert_eq!(scheduling_parent(&v3, true), SCHEDULING_PARENT);
}

#[test]
fn only_v3_gets_the_params_extension_and_it_encodes_as_the_relay_chains() {
    for layout in [DescriptorLayout::V1, V2] {
        assert_eq!(params_extension(&descriptor(layout), true), None);
    }
    let ours = params_extension(&descriptor(V3), true).expect("V3 has it");
    let relay = RelayExtension::V3 {
        relay_parent: RELAY_PARENT,
        scheduling_parent: SCHEDULING_PARENT,
    };
    assert_eq!(ours.encode(), relay.encode());
    assert_eq!(ours.encode().len(), 65);
}

#[test]
fn the_host_pvd_encodes_as_the_relay_chains() {
    let pvd = crate::test_candidate::pvd();
    assert_eq!(host_pvd(&pvd).encode(), pvd.encode());
}
