#include "apps/definition.h"

#include <gtest/gtest.h>

namespace basalt::apps {
namespace {

Json TripJson() {
  return Json::parse(R"({
    "schemaVersion": 1, "title": "Trip planner", "description": "Plans a trip.",
    "widgets": [
      {"id": "w1", "type": "user-input", "title": "Destination",
       "layout": {"x": 0, "y": 0, "w": 6, "h": 2}, "placeholder": "Where to?", "default": "Jeju"},
      {"id": "w2", "type": "static-text", "title": "About",
       "layout": {"x": 6, "y": 0, "w": 6, "h": 2}, "content": "**Markdown**"},
      {"id": "w3", "type": "document", "title": "Brochure",
       "layout": {"x": 0, "y": 2, "w": 6, "h": 2}},
      {"id": "w4", "type": "text-generation", "title": "Itinerary",
       "layout": {"x": 6, "y": 2, "w": 6, "h": 4},
       "prompt": "Plan three days in @Destination using @Brochure.", "model": "",
       "temperature": 0.7, "topP": 0.9, "maxTokens": 512},
      {"id": "w5", "type": "image-generation", "title": "Postcard",
       "layout": {"x": 0, "y": 6, "w": 6, "h": 4},
       "prompt": "A postcard of @Destination", "model": "", "width": 512, "height": 512,
       "seed": 0, "negativePrompt": ""},
      {"id": "w6", "type": "chatbot", "title": "Guide",
       "layout": {"x": 6, "y": 6, "w": 6, "h": 4},
       "prompt": "You are a guide for @Destination. Plan: @Itinerary", "model": "",
       "temperature": 0.7, "maxTokens": 512}
    ]})");
}

AppDefinition Trip() { return FromJson(TripJson()).value(); }

Widget Make(const std::string& id, const std::string& type, const std::string& title, int y,
            const std::string& prompt = "") {
  Widget w;
  w.id = id;
  w.type = type;
  w.title = title;
  w.layout = {0, y, 12, 1};
  w.prompt = prompt;
  return w;
}

std::string FromJsonError(const Json& j) {
  auto r = FromJson(j);
  EXPECT_FALSE(r.ok()) << j.dump();
  return r.ok() ? "" : r.status().message();
}

TEST(AppDefinition, RoundTrip) {
  AppDefinition def = Trip();
  ASSERT_EQ(def.widgets.size(), 6u);
  EXPECT_EQ(def.widgets[0].default_value, "Jeju");
  EXPECT_EQ(def.widgets[4].width, 512);
  EXPECT_TRUE(Validate(def).ok()) << Validate(def).message();
  Json j = ToJson(def);
  auto again = FromJson(j);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(ToJson(*again), j);
  EXPECT_EQ(j["widgets"][5]["topP"], 0.9);  // default filled in
  EXPECT_FALSE(j["widgets"][0].contains("prompt"));
}

TEST(AppDefinition, BadMembersNameThePath) {
  Json j = TripJson();
  j["widgets"][3]["temperature"] = 1.5;
  EXPECT_EQ(FromJsonError(j), "widgets[3].temperature must be a number between 0 and 1.");
  j = TripJson();
  j["widgets"][2]["temperature"] = 0.5;
  EXPECT_EQ(FromJsonError(j), "widgets[2].temperature is not a member of a document widget.");
  j = TripJson();
  j["widgets"][0]["colour"] = "red";
  EXPECT_EQ(FromJsonError(j), "widgets[0].colour is not a member of a user-input widget.");
  j = TripJson();
  j["extra"] = 1;
  EXPECT_EQ(FromJsonError(j), "extra is not a member of an app definition.");
  j = TripJson();
  j["widgets"][1]["type"] = "video";
  EXPECT_NE(FromJsonError(j).find("widgets[1].type must be one of"), std::string::npos);
  j = TripJson();
  j["widgets"][4]["width"] = 500;
  EXPECT_EQ(FromJsonError(j), "widgets[4].width must be a multiple of 64 between 256 and 1024.");
  j = TripJson();
  j["widgets"][3]["maxTokens"] = 0;
  EXPECT_EQ(FromJsonError(j), "widgets[3].maxTokens must be an integer between 1 and 8192.");
  j = TripJson();
  j["widgets"][3]["maxTokens"] = "512";
  EXPECT_EQ(FromJsonError(j), "widgets[3].maxTokens must be an integer between 1 and 8192.");
  j = TripJson();
  j["widgets"][0]["layout"]["w"] = 13;
  EXPECT_EQ(FromJsonError(j), "widgets[0].layout.w must be an integer between 1 and 12.");
  j = TripJson();
  j["widgets"][0]["layout"].erase("h");
  EXPECT_EQ(FromJsonError(j), "widgets[0].layout.h is required.");
  j = TripJson();
  j["widgets"][0].erase("layout");
  EXPECT_EQ(FromJsonError(j), "widgets[0].layout is required.");
  j = TripJson();
  j["widgets"][0]["id"] = "w 1";
  EXPECT_NE(FromJsonError(j).find("widgets[0].id must be"), std::string::npos);
  j = TripJson();
  j["widgets"][0]["title"] = std::string(61, 'a');
  EXPECT_EQ(FromJsonError(j), "widgets[0].title must be a string of 1 to 60 characters.");
  j = TripJson();
  j["widgets"][0]["title"] = "Line\nbreak";
  EXPECT_NE(FromJsonError(j).find("widgets[0].title must be one line"), std::string::npos);
  j = TripJson();
  j["schemaVersion"] = 2;
  EXPECT_NE(FromJsonError(j).find("schemaVersion must be 1"), std::string::npos);
  j = TripJson();
  j.erase("title");
  EXPECT_EQ(FromJsonError(j), "title is required.");
  EXPECT_EQ(FromJsonError(Json::array()), "The app definition must be a JSON object.");
  j = TripJson();
  for (int i = 0; i < 40; ++i) j["widgets"].push_back(j["widgets"][0]);
  EXPECT_EQ(FromJsonError(j), "widgets must be an array of at most 40 widgets.");
}

TEST(AppDefinition, TitleLimitsCountCharacters) {
  Json j = TripJson();
  std::string korean;
  for (int i = 0; i < 60; ++i) korean += "가";  // 180 bytes, 60 characters
  j["widgets"][0]["title"] = korean;
  EXPECT_TRUE(FromJson(j).ok());
  j["widgets"][0]["title"] = korean + "가";
  EXPECT_FALSE(FromJson(j).ok());
}

TEST(References, LongestTitleCaseInsensitive) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("a", kUserInput, "Trip", 0), Make("b", kUserInput, "Trip length", 1)};
  auto refs = FindReferences("Go on @trip LENGTH days, then @Trip!", def);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].widget_id, "b");
  EXPECT_EQ(refs[0].offset, 6u);
  EXPECT_EQ(refs[0].length, 12u);
  EXPECT_EQ(refs[0].written, "trip LENGTH");
  EXPECT_EQ(refs[1].widget_id, "a");
  EXPECT_EQ(refs[1].written, "Trip");
}

TEST(References, EmailsAndBareAtAreText) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("a", kUserInput, "b", 0)};
  EXPECT_TRUE(FindReferences("Write to a@b.com or x_@b, 10 @ 5, @@", def).empty());
  auto refs = FindReferences("(@b) and @missing_word.", def);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].widget_id, "a");
  EXPECT_EQ(refs[1].widget_id, "");
  EXPECT_EQ(refs[1].written, "missing_word");
}

TEST(References, KoreanTitles) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("a", kUserInput, "목적지", 0), Make("b", kUserInput, "여행 기간", 1),
                 Make("c", kTextGeneration, "일정", 2, "@목적지에서 @여행 기간 동안, 메일@목적지")};
  auto refs = FindReferences(def.widgets[2].prompt, def);
  // "@목적지에서": the title, then the particle; "메일@목적지": preceded by a letter, so text.
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].widget_id, "a");
  EXPECT_EQ(refs[1].widget_id, "b");
  EXPECT_EQ(Substitute(def.widgets[2].prompt, def, {{"a", "제주"}, {"b", "3일"}}),
            "제주에서 3일 동안, 메일@목적지");
  auto missing = FindReferences("@없는위젯 입니다", def);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].written, "없는위젯");
  EXPECT_TRUE(Validate(def).ok()) << Validate(def).message();
}

TEST(References, SubstituteLeavesMissingAndFillsAbsentWithEmpty) {
  AppDefinition def = Trip();
  EXPECT_EQ(Substitute("In @Destination with @Brochure and @Nothing.", def, {{"w1", "Seoul"}}),
            "In Seoul with  and @Nothing.");
}

TEST(Rename, ReferencesFollow) {
  AppDefinition def = Trip();
  ASSERT_TRUE(RenameWidget(def, "w1", "City").ok());
  EXPECT_EQ(def.widgets[0].title, "City");
  EXPECT_EQ(def.widgets[3].prompt, "Plan three days in @City using @Brochure.");
  EXPECT_EQ(def.widgets[4].prompt, "A postcard of @City");
  EXPECT_EQ(def.widgets[5].prompt, "You are a guide for @City. Plan: @Itinerary");
  EXPECT_TRUE(Validate(def).ok());
  ASSERT_TRUE(RenameWidget(def, "w1", "도시").ok());
  EXPECT_EQ(def.widgets[4].prompt, "A postcard of @도시");
  EXPECT_EQ(RenameWidget(def, "w1", "about").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RenameWidget(def, "w1", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RenameWidget(def, "w1", std::string(61, 'x')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RenameWidget(def, "w9", "X").code(), StatusCode::kNotFound);
  EXPECT_TRUE(RenameWidget(def, "w1", "도시").ok());  // same title: a no-op
}

TEST(Rename, RefusedWhenAnotherReferenceWouldChangeTarget) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("a", kUserInput, "Topic", 0), Make("b", kUserInput, "Other", 1),
                 Make("c", kTextGeneration, "Out", 2, "@Topic summary and @Other")};
  AppDefinition before = def;
  Status st = RenameWidget(def, "b", "Topic summary");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("would change what a reference in 'Out' refers to"),
            std::string::npos);
  EXPECT_EQ(ToJson(def), ToJson(before));  // unchanged
  ASSERT_TRUE(RenameWidget(def, "a", "Subject").ok());
  EXPECT_EQ(def.widgets[2].prompt, "@Subject summary and @Other");
}

TEST(Validate, MissingReferenceNamesWidgets) {
  AppDefinition def = Trip();
  def.widgets[3].prompt = "About @Topc";
  def.widgets[3].title = "Summary";
  EXPECT_EQ(Validate(def).message(),
            "The widget 'Summary' refers to @Topc, which is not a widget of this app.");
}

TEST(Validate, Cycles) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("s", kTextGeneration, "Summary", 0, "Use @Title"),
                 Make("t", kTextGeneration, "Title", 1, "Use @Summary"),
                 Make("i", kImageGeneration, "Pic", 2, "@Summary")};
  EXPECT_EQ(Validate(def).message(),
            "These widgets refer to each other in a cycle: Summary -> Title -> Summary.");
  def.widgets[1].prompt = "plain";
  def.widgets[0].prompt = "Again @summary";
  EXPECT_EQ(Validate(def).message(),
            "These widgets refer to each other in a cycle: Summary -> Summary.");
  def.widgets[0].prompt = "ok";
  EXPECT_TRUE(Validate(def).ok());
}

TEST(Validate, OnlyReferenceableWidgets) {
  AppDefinition def = Trip();
  def.widgets[3].prompt = "Describe @Postcard";
  EXPECT_NE(Validate(def).message().find(
                "The widget 'Itinerary' refers to @Postcard, an image-generation widget"),
            std::string::npos);
  def.widgets[3].prompt = "Describe @Guide";
  EXPECT_FALSE(Validate(def).ok());
}

TEST(Validate, UniqueIdsTitlesAndLayout) {
  AppDefinition def = Trip();
  def.widgets[1].title = "destination";
  EXPECT_EQ(Validate(def).message(),
            "Two widgets are titled 'destination'; titles must be unique (ignoring case).");
  def = Trip();
  def.widgets[1].id = "w1";
  EXPECT_EQ(Validate(def).message(),
            "The widgets 'Destination' and 'About' have the same id 'w1'.");
  def = Trip();
  def.widgets[1].layout = {5, 1, 2, 2};
  EXPECT_EQ(Validate(def).message(), "The widgets 'Destination' and 'About' overlap on the grid.");
  def = Trip();
  def.widgets[1].layout = {8, 0, 6, 2};
  EXPECT_EQ(Validate(def).message(),
            "The widget 'About' does not fit the grid: x + w must be at most 12.");
  def = Trip();
  def.widgets[1].layout = {6, 0, 6, 2};  // touching is fine
  EXPECT_TRUE(Validate(def).ok());
  def.widgets[3].temperature = 2;  // field rules apply to definitions built in code too
  EXPECT_EQ(Validate(def).message(), "widgets[3].temperature must be a number between 0 and 1.");
}

TEST(Validate, ModelAllowedCallback) {
  AppDefinition def = Trip();
  def.widgets[3].model = "secret-model";
  def.widgets[4].model = "img";
  std::vector<std::pair<std::string, std::string>> asked;
  auto allowed = [&](const std::string& type, const std::string& model) -> Status {
    asked.emplace_back(type, model);
    if (model == "secret-model") return Status::PermissionDenied("no access");
    return Status::Ok();
  };
  Status st = Validate(def, allowed);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "The widget 'Itinerary' cannot use the model 'secret-model': no access");
  def.widgets[3].model = "";
  asked.clear();
  EXPECT_TRUE(Validate(def, allowed).ok());
  ASSERT_EQ(asked.size(), 1u);  // "" (the default) is not asked about
  EXPECT_EQ(asked[0].first, kImageGeneration);
  EXPECT_EQ(asked[0].second, "img");
}

TEST(Graph, DependenciesAndWaves) {
  AppDefinition def;
  def.title = "t";
  def.widgets = {Make("in", kUserInput, "Topic", 0),
                 Make("a", kTextGeneration, "Outline", 1, "@Topic"),
                 Make("b", kTextGeneration, "Facts", 2, "@Topic"),
                 Make("c", kTextGeneration, "Essay", 3, "@Outline @Facts"),
                 Make("d", kImageGeneration, "Cover", 4, "@Essay"),
                 Make("e", kChatbot, "Tutor", 5, "@Topic"),
                 Make("f", kTextGeneration, "Alone", 6, "no refs")};
  ASSERT_TRUE(Validate(def).ok());
  auto deps = Dependencies(def);
  EXPECT_EQ(deps["c"], (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(deps["in"].empty());
  using Waves = std::vector<std::vector<std::string>>;
  EXPECT_EQ(RunWaves(def), (Waves{{"a", "b", "e", "f"}, {"c"}, {"d"}}));
  EXPECT_EQ(AffectedWaves(def, {"in"}), (Waves{{"a", "b", "e"}, {"c"}, {"d"}}));
  EXPECT_EQ(AffectedWaves(def, {"b"}), (Waves{{"c"}, {"d"}}));
  EXPECT_EQ(AffectedWaves(def, {"d"}), Waves{});
  EXPECT_EQ(AffectedWaves(def, {"a", "c"}), (Waves{{"c"}, {"d"}}));
}

}  // namespace
}  // namespace basalt::apps
