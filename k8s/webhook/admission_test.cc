// The webhook's decisions about pods: which are refused and with what
// message, what the patch does once applied (nlohmann's RFC 6902 patcher
// plays the API server), and that a second pass adds nothing.
#include "k8s/webhook/admission.h"

#include <gtest/gtest.h>

namespace sluice::k8s {
namespace {

using nlohmann::json;

std::string FixedName() { return "sluice-gpu-0123456789"; }

json Pod(json annotations, json containers = json::array({{{"name", "main"}, {"image", "x"}}})) {
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "team-a"}, {"annotations", annotations}}},
              {"spec", {{"schedulerName", "sluice"}, {"containers", containers}}}};
}

json GpuContainer(const json& limit, const json& request = nullptr) {
  json c = {
      {"name", "main"}, {"image", "x"}, {"resources", {{"limits", {{"nvidia.com/gpu", limit}}}}}};
  if (!request.is_null()) c["resources"]["requests"]["nvidia.com/gpu"] = request;
  return c;
}

std::string RefusalOf(const json& pod) {
  PodDecision d = ReviewPod(pod, true, FixedName);
  EXPECT_FALSE(d.allowed) << pod.dump();
  EXPECT_TRUE(d.patch.empty());
  return d.message;
}

json Patched(const json& pod) {
  PodDecision d = ReviewPod(pod, true, FixedName);
  EXPECT_TRUE(d.allowed) << d.message;
  return pod.patch(d.patch);
}

const json& EnvNamed(const json& container, const std::string& name) {
  for (const json& e : container["env"]) {
    if (e["name"] == name) return e;
  }
  static const json kNone;
  ADD_FAILURE() << "no env " << name << " in " << container.dump();
  return kNone;
}

TEST(ParseGpuShareTest, ReadsFractionMemoryAndDevices) {
  auto f = ParseGpuShare(Pod({{"sluice.dev/gpu-fraction", "0.25"}}));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->fraction_milli, 250);
  EXPECT_EQ(f->devices, 1);
  auto m = ParseGpuShare(Pod({{"sluice.dev/gpu-memory", "20Gi"}, {"sluice.dev/gpu-devices", "2"}}));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->memory_mib, 20480);
  EXPECT_EQ(m->devices, 2);
  // A plain number is MiB, not bytes.
  auto plain = ParseGpuShare(Pod({{"sluice.dev/gpu-memory", "20480"}}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->memory_mib, 20480);
  EXPECT_EQ(ParseGpuShare(Pod(json::object())).status().code(), Status::Code::kNotFound);
}

TEST(ReviewPodTest, EachBadFractionIsRefusedWithWhatWasExpected) {
  for (const char* bad : {"1", "0", "1.5", "-0.5", "0.1234", "half", "", "5e-1"}) {
    const std::string msg = RefusalOf(Pod({{"sluice.dev/gpu-fraction", bad}}));
    EXPECT_EQ(msg, std::string("annotation sluice.dev/gpu-fraction: \"") + bad +
                       "\" is not a fraction of a GPU; expected a decimal between 0 and 1 "
                       "(exclusive) with at most 3 decimals, e.g. \"0.5\" (for whole GPUs, "
                       "request nvidia.com/gpu instead)");
  }
}

TEST(ReviewPodTest, EachBadMemoryIsRefusedWithWhatWasExpected) {
  for (const char* bad : {"0", "20Gb", "lots", "-1Gi", "0Mi", ""}) {
    const std::string msg = RefusalOf(Pod({{"sluice.dev/gpu-memory", bad}}));
    EXPECT_EQ(msg, std::string("annotation sluice.dev/gpu-memory: \"") + bad +
                       "\" is not an amount of GPU memory; expected a Kubernetes quantity such "
                       "as \"20Gi\" or \"20480Mi\", or a plain number of MiB, greater than zero");
  }
}

TEST(ReviewPodTest, BadDeviceCountsAreRefused) {
  for (const char* bad : {"0", "1.5", "two", "65", ""}) {
    const std::string msg =
        RefusalOf(Pod({{"sluice.dev/gpu-fraction", "0.5"}, {"sluice.dev/gpu-devices", bad}}));
    EXPECT_EQ(msg, std::string("annotation sluice.dev/gpu-devices: \"") + bad +
                       "\" is not a number of GPUs; expected a whole number from 1 to 64");
  }
  EXPECT_EQ(RefusalOf(Pod({{"sluice.dev/gpu-devices", "2"}})),
            "annotation sluice.dev/gpu-devices applies only with sluice.dev/gpu-fraction or "
            "sluice.dev/gpu-memory; for whole GPUs, request nvidia.com/gpu instead");
}

TEST(ReviewPodTest, FractionAndMemoryTogetherAreRefused) {
  EXPECT_EQ(RefusalOf(Pod({{"sluice.dev/gpu-fraction", "0.5"}, {"sluice.dev/gpu-memory", "10Gi"}})),
            "annotations sluice.dev/gpu-fraction and sluice.dev/gpu-memory are both set; a pod "
            "asks for a fraction of a GPU or an amount of its memory, not both: remove one");
}

TEST(ReviewPodTest, AShareWithAWholeGpuRequestIsRefused) {
  EXPECT_EQ(RefusalOf(Pod({{"sluice.dev/gpu-memory", "10Gi"}}, json::array({GpuContainer(1)}))),
            "annotation sluice.dev/gpu-memory cannot be combined with an nvidia.com/gpu request "
            "or limit in a container: a pod takes a share of a GPU or whole GPUs, not both");
}

TEST(ReviewPodTest, AnnotationsMustBeStrings) {
  EXPECT_EQ(RefusalOf(Pod({{"sluice.dev/gpu-fraction", 0.5}})),
            "annotation sluice.dev/gpu-fraction must be a string");
}

TEST(ReviewPodTest, WholeGpuRequestsMustBeWholeAndMatchTheirLimits) {
  EXPECT_EQ(RefusalOf(Pod(json::object(), json::array({GpuContainer("0.5")}))),
            "container \"main\": resources.limits[nvidia.com/gpu] is \"0.5\"; expected a whole "
            "number of GPUs (for a share of one, leave nvidia.com/gpu out and set the annotation "
            "sluice.dev/gpu-fraction or sluice.dev/gpu-memory)");
  EXPECT_EQ(RefusalOf(Pod(json::object(), json::array({GpuContainer(2, "1")}))),
            "container \"main\": resources.requests[nvidia.com/gpu] is \"1\" but limits is 2; "
            "GPUs cannot be overcommitted: make them equal");
  EXPECT_NE(RefusalOf(Pod(json::object(), json::array({GpuContainer(json::array())})))
                .find("resources.limits[nvidia.com/gpu] is []"),
            std::string::npos);
  PodDecision whole =
      ReviewPod(Pod(json::object(), json::array({GpuContainer(2, "2000m")})), true, FixedName);
  EXPECT_TRUE(whole.allowed) << whole.message;
  EXPECT_TRUE(whole.patch.empty());
}

TEST(ReviewPodTest, OtherSchedulersAndPlainSluicePodsAreUntouched) {
  json other = Pod({{"sluice.dev/gpu-fraction", "7"}}, json::array({GpuContainer("0.5")}));
  other["spec"]["schedulerName"] = "default-scheduler";
  PodDecision d = ReviewPod(other, true, FixedName);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.patch.empty());
  other["spec"].erase("schedulerName");
  EXPECT_TRUE(ReviewPod(other, true, FixedName).allowed);
  PodDecision plain = ReviewPod(Pod(json::object()), true, FixedName);
  EXPECT_TRUE(plain.allowed);
  EXPECT_TRUE(plain.patch.empty());
}

TEST(ReviewPodTest, PatchPointsEveryContainerAtTheConfigMap) {
  json containers =
      json::array({{{"name", "main"}, {"image", "x"}},
                   {{"name", "side"},
                    {"image", "y"},
                    {"env", json::array({{{"name", "LD_PRELOAD"}, {"value", "/a.so"}},
                                         {{"name", "NVIDIA_VISIBLE_DEVICES"}, {"value", "all"}}})},
                    {"volumeMounts", json::array({{{"name", "data"}, {"mountPath", "/data"}}})}}});
  json pod = Pod({{"sluice.dev/gpu-fraction", "0.5"}}, containers);
  pod["spec"]["initContainers"] = json::array({{{"name", "init"}, {"image", "z"}}});
  pod["spec"]["volumes"] = json::array({{{"name", "data"}, {"emptyDir", json::object()}}});
  json out = Patched(pod);
  EXPECT_EQ(out["metadata"]["annotations"]["sluice.dev/gpu-configmap"], "sluice-gpu-0123456789");
  EXPECT_EQ(out["metadata"]["annotations"]["sluice.dev/gpu-fraction"], "0.5");
  for (const json& c : out["spec"]["containers"]) {
    for (const char* key :
         {"NVIDIA_VISIBLE_DEVICES", "SLUICE_GPU_DEVICES", "SLUICE_GPU_FRACTION",
          "SLUICE_GPU_MEMORY_LIMIT", "SLUICE_GPU_MEMORY_LIMIT_MIB", "SLUICE_GPU_COMPUTE_SHARE"}) {
      EXPECT_EQ(EnvNamed(c, key)["valueFrom"]["configMapKeyRef"],
                json({{"name", "sluice-gpu-0123456789"}, {"key", key}}));
    }
    EXPECT_EQ(EnvNamed(c, "SLUICE_VGPU_DIR")["value"], "/run/sluice-vgpu");
    EXPECT_TRUE(
        c["volumeMounts"].dump().find(R"({"mountPath":"/run/sluice-vgpu","name":"sluice-vgpu"})") !=
        std::string::npos)
        << c.dump();
    EXPECT_TRUE(
        c["volumeMounts"].dump().find(
            R"({"mountPath":"/usr/local/sluice/lib","name":"sluice-lib","readOnly":true})") !=
        std::string::npos)
        << c.dump();
  }
  const json& main = out["spec"]["containers"][0];
  const json& side = out["spec"]["containers"][1];
  EXPECT_EQ(EnvNamed(main, "LD_PRELOAD")["value"], "/usr/local/sluice/lib/libsluice-vgpu.so");
  // The container's own preload stays, after sluice's; its own device list
  // is replaced (where it stood) so it cannot see every GPU.
  EXPECT_EQ(EnvNamed(side, "LD_PRELOAD")["value"], "/usr/local/sluice/lib/libsluice-vgpu.so:/a.so");
  EXPECT_EQ(side["env"][1]["name"], "NVIDIA_VISIBLE_DEVICES");
  EXPECT_TRUE(side["env"][1].contains("valueFrom"));
  EXPECT_EQ(side["volumeMounts"][0]["name"], "data");
  EXPECT_FALSE(out["spec"]["initContainers"][0].contains("env"));
  EXPECT_EQ(out["spec"]["volumes"],
            json::parse(R"([{"name":"data","emptyDir":{}},{"name":"sluice-vgpu","emptyDir":{}},
              {"name":"sluice-lib","hostPath":{"path":"/usr/local/sluice/lib","type":"Directory"}}])"));
}

TEST(ReviewPodTest, ASecondPassAddsNothing) {
  json pod =
      Pod({{"sluice.dev/gpu-memory", "20Gi"}},
          json::array({{{"name", "main"},
                        {"image", "x"},
                        {"env", json::array({{{"name", "LD_PRELOAD"}, {"value", "/a.so"}}})}}}));
  json once = Patched(pod);
  PodDecision again = ReviewPod(once, true, [] { return std::string("sluice-gpu-ffffffffff"); });
  EXPECT_TRUE(again.allowed);
  EXPECT_EQ(again.patch, json::array()) << again.patch.dump();
  // A container another webhook added between the passes gets its share.
  once["spec"]["containers"].push_back({{"name", "late"}, {"image", "y"}});
  PodDecision late = ReviewPod(once, true, FixedName);
  json twice = once.patch(late.patch);
  EXPECT_EQ(EnvNamed(twice["spec"]["containers"][1],
                     "SLUICE_GPU_FRACTION")["valueFrom"]["configMapKeyRef"]["name"],
            "sluice-gpu-0123456789");
  EXPECT_EQ(twice["spec"]["volumes"].size(), 2u);
}

TEST(ReviewPodTest, AnExistingConfigMapNameIsKept) {
  json out = Patched(Pod(
      {{"sluice.dev/gpu-fraction", "0.5"}, {"sluice.dev/gpu-configmap", "sluice-gpu-aaaaaaaaaa"}}));
  EXPECT_EQ(out["metadata"]["annotations"]["sluice.dev/gpu-configmap"], "sluice-gpu-aaaaaaaaaa");
  EXPECT_EQ(EnvNamed(out["spec"]["containers"][0],
                     "NVIDIA_VISIBLE_DEVICES")["valueFrom"]["configMapKeyRef"]["name"],
            "sluice-gpu-aaaaaaaaaa");
}

TEST(ReviewPodTest, LdPreloadFromValueFromIsRefused) {
  json c = {{"name", "main"},
            {"env",
             json::array({{{"name", "LD_PRELOAD"},
                           {"valueFrom", {{"configMapKeyRef", {{"name", "x"}, {"key", "y"}}}}}}})}};
  EXPECT_EQ(RefusalOf(Pod({{"sluice.dev/gpu-fraction", "0.5"}}, json::array({c}))),
            "container \"main\" takes LD_PRELOAD from valueFrom; sluice must put its GPU-sharing "
            "library first in LD_PRELOAD: give LD_PRELOAD as a plain value instead");
}

TEST(RandomConfigMapNameTest, TenLowercaseHexDigits) {
  const std::string a = RandomConfigMapName();
  ASSERT_EQ(a.size(), 21u);
  EXPECT_EQ(a.substr(0, 11), "sluice-gpu-");
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 11), std::string::npos) << a;
  EXPECT_NE(a, RandomConfigMapName());
}

json Review(json pod, const std::string& op = "CREATE") {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                {"namespace", "team-a"},
                {"operation", op},
                {"object", std::move(pod)}}}};
}

TEST(AnswerAdmissionReviewTest, AllowsWithABase64JsonPatch) {
  auto out = AnswerAdmissionReview(Review(Pod({{"sluice.dev/gpu-fraction", "0.5"}})).dump(), true,
                                   FixedName);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const json& r = (*out)["response"];
  EXPECT_EQ((*out)["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ((*out)["kind"], "AdmissionReview");
  EXPECT_EQ(r["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r["allowed"], true);
  EXPECT_EQ(r["patchType"], "JSONPatch");
  const json expected = ReviewPod(Pod({{"sluice.dev/gpu-fraction", "0.5"}}), true, FixedName).patch;
  EXPECT_EQ(r["patch"], Base64Encode(expected.dump()));
}

TEST(AnswerAdmissionReviewTest, RefusesWithAStatusMessage) {
  auto out = AnswerAdmissionReview(Review(Pod({{"sluice.dev/gpu-fraction", "2"}})).dump(), true,
                                   FixedName);
  ASSERT_TRUE(out.ok());
  const json& r = (*out)["response"];
  EXPECT_EQ(r["allowed"], false);
  EXPECT_EQ(r["status"]["code"], 400);
  EXPECT_NE(r["status"]["message"].get<std::string>().find("sluice.dev/gpu-fraction: \"2\""),
            std::string::npos);
  EXPECT_FALSE(r.contains("patch"));
}

TEST(AnswerAdmissionReviewTest, UpdatesAreCheckedButNotPatched) {
  auto ok = AnswerAdmissionReview(
      Review(Pod({{"sluice.dev/gpu-fraction", "0.5"}}), "UPDATE").dump(), true, FixedName);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["response"]["allowed"], true);
  EXPECT_FALSE((*ok)["response"].contains("patch"));
  auto bad = AnswerAdmissionReview(Review(Pod({{"sluice.dev/gpu-fraction", "x"}}), "UPDATE").dump(),
                                   true, FixedName);
  EXPECT_EQ((*bad)["response"]["allowed"], false);
  auto del = AnswerAdmissionReview(Review(nullptr, "DELETE").dump(), true, FixedName);
  EXPECT_EQ((*del)["response"]["allowed"], true);
}

TEST(AnswerAdmissionReviewTest, ValidateOnlyNeverPatches) {
  auto out = AnswerAdmissionReview(Review(Pod({{"sluice.dev/gpu-fraction", "0.5"}})).dump(), false,
                                   FixedName);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)["response"]["allowed"], true);
  EXPECT_FALSE((*out)["response"].contains("patch"));
}

TEST(AnswerAdmissionReviewTest, GarbageIsAnErrorNotACrash) {
  EXPECT_EQ(AnswerAdmissionReview("{not json", true, FixedName).status().message(),
            "the request body is not JSON; expected an AdmissionReview");
  EXPECT_EQ(
      AnswerAdmissionReview(R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1"})",
                            true, FixedName)
          .status()
          .message(),
      "expected an AdmissionReview with apiVersion admission.k8s.io/v1 (set "
      "admissionReviewVersions: [v1] in the webhook configuration)");
  EXPECT_EQ(AnswerAdmissionReview(R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",
                                      "request":{"uid":7}})",
                                  true, FixedName)
                .status()
                .message(),
            "the AdmissionReview has no request.uid");
  json no_object = Review(nullptr);
  EXPECT_EQ(AnswerAdmissionReview(no_object.dump(), true, FixedName).status().message(),
            "the AdmissionReview's request.object is not a Pod object");
  for (const char* odd :
       {"[]", "7", "null",
        R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":[]})"}) {
    EXPECT_FALSE(AnswerAdmissionReview(odd, true, FixedName).ok()) << odd;
  }
  // Odd shapes inside a pod are refusals or no-ops, never exceptions.
  json weird = Pod({{"sluice.dev/gpu-fraction", "0.5"}}, "not a list");
  weird["spec"]["volumes"] = 7;
  auto out = AnswerAdmissionReview(Review(weird).dump(), true, FixedName);
  ASSERT_TRUE(out.ok());
}

TEST(Base64Test, EncodesWithPadding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace sluice::k8s
