"""The radio under the packet-level channel models: MCS, code blocks, fading, airtime and BLER.

Two fidelity levels share everything here: the link-level chain (:mod:`semlink.channel.phy.chain`,
Sionna's 5G LDPC, QAM and demapping, run on every packet) and the abstraction (BLER looked up per
packet from :mod:`semlink.channel.phy.tables`). Sionna is imported only by the chain and by the
table builder, so a run that uses neither never pays for its import.
"""
