// Istio's canonical names for a workload, the gateway's name, and the peer
// header's encoding, including what a hostile sender can put in it.
#include "config/peer_identity.h"

#include <gtest/gtest.h>

namespace laneproxy::config {
namespace {

TEST(PeerIdentity, CanonicalNamesFollowIstiosLabelPrecedence) {
  auto id = workload_identity("mocka-v1", "default", {{"app", "mocka"}, {"version", "v1"}}, "c1");
  EXPECT_EQ(id.canonical_service, "mocka");
  EXPECT_EQ(id.canonical_revision, "v1");
  EXPECT_EQ(id.app, "mocka");
  EXPECT_EQ(id.cluster, "c1");
  id = workload_identity("mocka-v1", "default",
                         {{"app", "mocka"},
                          {"version", "v1"},
                          {"app.kubernetes.io/name", "a-name"},
                          {"app.kubernetes.io/version", "1.2"},
                          {"service.istio.io/canonical-name", "canon"},
                          {"service.istio.io/canonical-revision", "r7"}},
                         "c1");
  EXPECT_EQ(id.canonical_service, "canon");
  EXPECT_EQ(id.canonical_revision, "r7");
  id = workload_identity("w", "ns", {{"app.kubernetes.io/name", "a-name"}, {"version", "v2"}}, "c");
  EXPECT_EQ(id.canonical_service, "a-name");
  EXPECT_EQ(id.canonical_revision, "v2");
  EXPECT_EQ(id.app, "unknown");
  id = workload_identity("w", "ns", {}, "c");
  EXPECT_EQ(id.canonical_service, "w");
  EXPECT_EQ(id.canonical_revision, "latest");
}

TEST(PeerIdentity, TheGatewayIsTheDeploymentItsSelectorNames) {
  gateway_info gw;
  gw.name = "ingressgateway";
  gw.ns = "istio-system";
  gw.selector = {{"istio", "ingressgateway"}};
  const auto id = gateway_identity(gw, "Kubernetes");
  EXPECT_EQ(id.workload, "istio-ingressgateway");
  EXPECT_EQ(id.ns, "istio-system");
  EXPECT_EQ(id.app, "istio-ingressgateway");
  EXPECT_EQ(id.canonical_service, "istio-ingressgateway");
  EXPECT_EQ(id.canonical_revision, "latest");
  gw.selector = {{"app", "edge"}};
  EXPECT_EQ(gateway_identity(gw, "Kubernetes").workload, "ingressgateway");
}

TEST(PeerIdentity, TheHeaderRoundTripsAndEscapes) {
  auto id =
      workload_identity("mocka-v1", "default", {{"app", "mocka"}, {"version", "v1"}}, "Kubernetes");
  id.canonical_revision = "1.0 beta;x=y%";
  const auto text = encode_peer(id);
  EXPECT_EQ(text,
            "workload=mocka-v1;namespace=default;app=mocka;version=v1;service=mocka;"
            "revision=1.0%20beta%3Bx%3Dy%25;cluster=Kubernetes");
  peer_identity back;
  ASSERT_TRUE(decode_peer(text, back));
  EXPECT_EQ(back, id);
}

TEST(PeerIdentity, AMalformedHeaderIsNotRead) {
  peer_identity out;
  out.workload = "untouched";
  const std::string good = "workload=w;namespace=n;app=a;version=v;service=s;revision=r;cluster=c";
  ASSERT_TRUE(decode_peer(good, out));
  out.workload = "untouched";
  for (const std::string& bad : {
           std::string(""),
           std::string("workload=w"),
           good + ";extra=1",
           std::string("namespace=n;workload=w;app=a;version=v;service=s;revision=r;cluster=c"),
           std::string("workload=;namespace=n;app=a;version=v;service=s;revision=r;cluster=c"),
           std::string("workload=w x;namespace=n;app=a;version=v;service=s;revision=r;cluster=c"),
           std::string("workload=%0A;namespace=n;app=a;version=v;service=s;revision=r;cluster=c"),
           std::string("workload=%4;namespace=n;app=a;version=v;service=s;revision=r;cluster=c"),
           "workload=" + std::string(300, 'w') +
               ";namespace=n;app=a;version=v;service=s;revision=r;cluster=c",
       }) {
    EXPECT_FALSE(decode_peer(bad, out)) << bad;
    EXPECT_EQ(out.workload, "untouched") << bad;
  }
}

}  // namespace
}  // namespace laneproxy::config
