#include <string>
#include <utility>
#include <vector>

#include "cc/ingest/mirror.h"
#include "cc/ingest/mirror_settings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

// --- OffsetTracker ---------------------------------------------------------

TEST(OffsetTrackerTest, CommitsOnlyUpToTheFirstUnacknowledgedMessage) {
  OffsetTracker t;
  const uint64_t a = t.Track(0, 10);
  const uint64_t b = t.Track(0, 11);
  const uint64_t c = t.Track(0, 12);
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
  t.Acknowledge(b);
  t.Acknowledge(c);
  // 10 is still in flight: committing 12 or 13 would lose it in a crash.
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
  EXPECT_EQ(t.in_flight(), 3);
  t.Acknowledge(a);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 13)));
  EXPECT_EQ(t.in_flight(), 0);
  // Nothing new since: nothing to commit again.
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
}

TEST(OffsetTrackerTest, PartitionsAreIndependent) {
  OffsetTracker t;
  const uint64_t p0 = t.Track(0, 100);
  const uint64_t p1 = t.Track(1, 5);
  const uint64_t p7 = t.Track(7, 0);
  t.Acknowledge(p1);
  t.Acknowledge(p7);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(1, 6), Pair(7, 1)));
  t.Acknowledge(p0);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 101)));
}

TEST(OffsetTrackerTest, GapsInSourceOffsetsAreFine) {
  // Compacted topics and transaction markers leave holes in the offsets.
  OffsetTracker t;
  const uint64_t a = t.Track(2, 3);
  const uint64_t b = t.Track(2, 9);
  t.Acknowledge(a);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(2, 4)));
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(2, 10)));
}

TEST(OffsetTrackerTest, RereadAfterReassignmentMovesTheCommitBack) {
  // A partition revoked and assigned again is read from its committed
  // offset: what is acknowledged afterwards is the truth to commit.
  OffsetTracker t;
  const uint64_t a = t.Track(0, 50);
  const uint64_t b = t.Track(0, 40);
  t.Acknowledge(a);
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 41)));
}

TEST(OffsetTrackerTest, UnknownAndRepeatedAcknowledgementsAreIgnored) {
  OffsetTracker t;
  const uint64_t a = t.Track(0, 1);
  const uint64_t b = t.Track(0, 2);
  t.Acknowledge(a);
  t.Acknowledge(a);
  t.Acknowledge(a + 1000);   // never tracked
  t.Acknowledge((uint64_t{3} << 44) | 0);  // partition never seen
  EXPECT_EQ(t.in_flight(), 1);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 2)));
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 3)));
}

TEST(OffsetTrackerTest, LookupNamesTheSourceMessage) {
  OffsetTracker t;
  t.Track(4, 77);
  const uint64_t tag = t.Track(4, 78);
  auto where = t.Lookup(tag);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->first, 4);
  EXPECT_EQ(where->second, 78);
  t.Acknowledge(t.Track(5, 1));
  EXPECT_FALSE(t.Lookup(tag + 5).ok());
}

TEST(OffsetTrackerTest, UntakeMakesAFailedCommitRetry) {
  OffsetTracker t;
  t.Acknowledge(t.Track(0, 1));
  auto taken = t.TakeCommittable();
  ASSERT_THAT(taken, ElementsAre(Pair(0, 2)));
  t.Untake(taken);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 2)));
}

TEST(OffsetTrackerTest, LargePartitionNumbersKeepTheirOwnSequence) {
  OffsetTracker t;
  const uint64_t hi = t.Track(OffsetTracker::kMaxPartition, 9);
  const uint64_t lo = t.Track(0, 9);
  t.Acknowledge(hi);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(OffsetTracker::kMaxPartition, 10)));
  t.Acknowledge(lo);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 10)));
}

// --- DestinationPartition -------------------------------------------------

TEST(DestinationPartitionTest, SameNumberWhenTheDestinationIsLargeEnough) {
  EXPECT_EQ(DestinationPartition(0, 3), 0);
  EXPECT_EQ(DestinationPartition(2, 3), 2);
  EXPECT_EQ(DestinationPartition(2, 12), 2);
}

TEST(DestinationPartitionTest, ModuloWhenTheDestinationHasFewerPartitions) {
  EXPECT_EQ(DestinationPartition(3, 3), 0);
  EXPECT_EQ(DestinationPartition(7, 3), 1);
}

// --- BuildKafkaConfig ------------------------------------------------------

ClusterSettings Sasl() {
  ClusterSettings s;
  s.role = "source";
  s.brokers = "127.0.0.1:9094";
  s.sasl_username = "reader";
  s.sasl_password = "s3cret-value";
  return s;
}

TEST(BuildKafkaConfigTest, UserImpliesSaslPlaintextAndPlain) {
  auto c = BuildKafkaConfig(Sasl(), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "SASL_PLAINTEXT");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(c->Get("sasl.username"), "reader");
  EXPECT_EQ(c->Get("sasl.password"), "s3cret-value");
  EXPECT_THAT(c->DebugString(), Not(HasSubstr("s3cret-value")));
}

TEST(BuildKafkaConfigTest, NoUserMeansPlaintext) {
  ClusterSettings s;
  s.role = "destination";
  s.brokers = "b:1";
  auto c = BuildKafkaConfig(s, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "PLAINTEXT");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "");
}

TEST(BuildKafkaConfigTest, ScramAndProtocolAreNormalized) {
  ClusterSettings s = Sasl();
  s.security_protocol = "sasl_ssl";
  s.sasl_mechanism = "scram-sha-512";
  auto c = BuildKafkaConfig(s, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "SCRAM-SHA-512");
}

TEST(BuildKafkaConfigTest, RejectsInconsistentSettingsWithoutEchoingThePassword) {
  ClusterSettings no_brokers = Sasl();
  no_brokers.brokers.clear();
  ClusterSettings no_password = Sasl();
  no_password.sasl_password.clear();
  ClusterSettings no_user = Sasl();
  no_user.sasl_username.clear();
  ClusterSettings bad_mechanism = Sasl();
  bad_mechanism.sasl_mechanism = "GSSAPI";
  ClusterSettings bad_protocol = Sasl();
  bad_protocol.security_protocol = "TLS";
  ClusterSettings user_without_sasl = Sasl();
  user_without_sasl.security_protocol = "PLAINTEXT";
  ClusterSettings sasl_without_user;
  sasl_without_user.role = "source";
  sasl_without_user.brokers = "b:1";
  sasl_without_user.security_protocol = "SASL_PLAINTEXT";
  for (const ClusterSettings& s : {no_brokers, no_password, no_user, bad_mechanism,
                                   bad_protocol, user_without_sasl, sasl_without_user}) {
    auto c = BuildKafkaConfig(s, {});
    ASSERT_FALSE(c.ok()) << s.security_protocol << " " << s.sasl_mechanism;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("source Kafka"));
    EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("s3cret-value")));
  }
}

TEST(BuildKafkaConfigTest, PropertiesWinAndMalformedOnesFail) {
  auto c = BuildKafkaConfig(Sasl(), {"ssl.ca.location=/etc/ca.pem", "security.protocol=SASL_SSL",
                                     "client.id=a=b"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(c->Get("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->Get("client.id"), "a=b");
  auto bad = BuildKafkaConfig(Sasl(), {"justavalue"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("justavalue")));
}

// --- ExtractPropertyArgs ---------------------------------------------------

TEST(ExtractPropertyArgsTest, TakesEverySpellingAndKeepsTheRest) {
  PropertyArgs props;
  auto rest = ExtractPropertyArgs(
      {"mirror", "-X", "a=1", "--source-brokers=b:1", "-Xb=2,3", "-X=c=3", "-Y", "d=4",
       "--destination-property=e=5", "--source_property", "f=6", "-Yg=7", "--exit-at-end",
       "--", "-X", "h=8"},
      &props);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(props.source, ElementsAre("a=1", "b=2,3", "c=3", "f=6"));
  EXPECT_THAT(props.destination, ElementsAre("d=4", "e=5", "g=7"));
  EXPECT_THAT(*rest, ElementsAre("mirror", "--source-brokers=b:1", "--exit-at-end", "--",
                                 "-X", "h=8"));
}

TEST(ExtractPropertyArgsTest, MissingValueFails) {
  PropertyArgs props;
  EXPECT_FALSE(ExtractPropertyArgs({"mirror", "-Y"}, &props).ok());
  EXPECT_FALSE(ExtractPropertyArgs({"mirror", "--source-property"}, &props).ok());
}

}  // namespace
}  // namespace pv::ingest
