package extract

import (
	"strings"

	"github.com/engram-memory/engram/internal/entity"
)

// gazetteer fixes prose's weakest labels: it calls most companies PERSON or GPE. Small on purpose; the
// capitalised-object rules of the lexicon type the rest ("works at Zyxo" → organisation).
var gazetteer = func() map[string]EntityType {
	g := map[string]EntityType{}
	add := func(t EntityType, names string) {
		for _, n := range strings.Split(names, ",") {
			g[entity.Normalise(n)] = t
		}
	}
	add(Organisation, "Google,Microsoft,Apple,Amazon,Meta,Facebook,Netflix,IBM,Intel,Nvidia,Tesla,SpaceX,OpenAI,Anthropic,"+
		"Spotify,Uber,Airbnb,Stripe,Shopify,Oracle,Salesforce,Adobe,Samsung,Sony,Siemens,SAP,Deloitte,Accenture,McKinsey,"+
		"Goldman Sachs,JPMorgan,Bank of America,Walmart,Starbucks,Nike,Adidas,IKEA,Toyota,BMW,Volkswagen,Boeing,Airbus,"+
		"NASA,UN,WHO,Red Cross,Harvard,Stanford,MIT,Oxford,Cambridge,Yale,Princeton,Berkeley,UCLA,NYU,Columbia,"+
		"Harvard University,Stanford University,Oxford University,University of Oxford,University of Cambridge")
	add(Place, "Paris,London,Berlin,Tokyo,Rome,Madrid,Lisbon,Amsterdam,Vienna,Prague,Dublin,Oslo,Stockholm,Copenhagen,"+
		"Helsinki,Warsaw,Athens,Barcelona,Munich,Hamburg,Zurich,Geneva,Brussels,Milan,New York,Los Angeles,San Francisco,"+
		"Seattle,Boston,Chicago,Austin,Denver,Portland,Miami,Toronto,Vancouver,Montreal,Sydney,Melbourne,Seoul,Beijing,"+
		"Shanghai,Singapore,Mumbai,Delhi,Bangalore,Cairo,Nairobi,Lagos,Mexico City,Buenos Aires,Lima,Bogota,"+
		"France,Germany,Spain,Italy,Portugal,Japan,China,India,Canada,Mexico,Brazil,Australia,England,Scotland,Ireland,"+
		"Wales,Norway,Sweden,Finland,Denmark,Poland,Greece,Egypt,Kenya,Nigeria,Thailand,Vietnam,Korea,USA,UK,"+
		"United States,United Kingdom,California,Texas,Florida,Bavaria,Europe,Asia,Africa")
	add(Product, "iPhone,iPad,MacBook,Kindle,PlayStation,Xbox,Nintendo Switch,Android,Windows,Linux,Prius,Model 3,"+
		"Excel,Photoshop,Slack,Zoom,ChatGPT,Instagram,TikTok,WhatsApp")
	add(Event, "Christmas,Thanksgiving,Easter,Halloween,Olympics,World Cup,Super Bowl,Coachella,Burning Man,Oktoberfest")
	return g
}()

var femaleNames, maleNames = nameSet("Anna,Maria,Sarah,Emma,Olivia,Sophie,Sophia,Laura,Julia,Emily,Jessica,Kate,Katie,Lisa,Linda,Mary,Alice,Eva,Eve,Lucy,Mia,Chloe,Grace,Hannah,Rachel,Rebecca,Nina,Lena,Clara,Elena,Isabel,Caroline,Melanie,Jane,Susan,Karen,Amy,Zoe,Ella,Ava,Lily,Priya,Aisha,Fatima,Yuki,Mei,Ines,Joanna,Jenny,Helen,Diana,Nora,Rosa,Sofia"),
	nameSet("John,James,Tom,Thomas,Mark,Paul,Peter,David,Daniel,Michael,Mike,Chris,Robert,Bob,William,Will,Jack,Joe,Joseph,Alex,Ben,Sam,Max,Leo,Lucas,Luke,Noah,Oliver,Jacob,Ethan,Ryan,Kevin,Brian,Steve,Steven,George,Henry,Frank,Carlos,Miguel,Ahmed,Omar,Raj,Ravi,Hiro,Kenji,Ivan,Igor,Marco,Luca,Hans,Felix,Jonas,Erik,Nick,Andrew,Matt")

func nameSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		m[strings.ToLower(n)] = true
	}
	return m
}

// notNames are capitalised words that begin sentences or name times, never entities.
var notNames = nameSet("I,The,A,An,My,Our,Your,His,Her,Their,This,That,These,Those,It,We,You,He,She,They,Me,Yesterday,Today," +
	"Tomorrow,Tonight,Last,Next,Since,In,On,At,Then,So,Also,Now,Recently,But,And,Or,Well,Oh,Hey,Hi,Hello,Yes,No,Yeah," +
	"Actually,Honestly,Sure,Thanks,Thank,Please,Ok,Okay,What,When,Where,Who,Why,How,If,After,Before,During,Because," +
	"Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday,January,February,March,April,May,June,July,August," +
	"September,October,November,December,Mom,Mum,Dad,Great,Good,Nice,Wow,Sorry,Anyway,Still,Just,Do,Did,Does,Is,Are,Was," +
	"Have,Has,Had,Can,Could,Would,Should,Will,Not,Never,Always,Maybe,Lol,Haha,Cool,Love,Congrats,Congratulations,Let,Any,Some,Every,One,Two")

// typeOfNER maps prose's labels; prose's ORG is rare and its PERSON often a company, so the gazetteer and the
// lexicon overrule it.
func typeOfNER(label string) EntityType {
	switch label {
	case "PERSON":
		return Person
	case "GPE", "LOC", "LOCATION":
		return Place
	case "ORG", "ORGANIZATION":
		return Organisation
	case "PRODUCT":
		return Product
	case "EVENT":
		return Event
	}
	return Other
}

// capRun returns the end (exclusive) of a run of capitalised toks starting at i, joining "of", "&", "de" and a
// possessive inside names ("Bank of America", "St Mary's Hospital"). It returns i when ts[i] does not start a name.
func capRun(ts []tok, i int) int {
	j := i
	for j < len(ts) && ts[j].cap && !ts[j].punct {
		j++
		if j+1 < len(ts) && (ts[j].low == "of" || ts[j].low == "&" || ts[j].low == "de" || ts[j].low == "'s") && ts[j+1].cap && !ts[j+1].punct {
			j++
		}
	}
	return j
}

// languages and nationalities are values ("speaks French", "loves Italian food"), not entities.
var languages = nameSet("English,French,German,Spanish,Italian,Chinese,Japanese,Portuguese,Russian,Arabic,Hindi,Korean," +
	"Dutch,Swedish,Polish,Greek,Turkish,Mandarin,Cantonese,Thai,Vietnamese,Norwegian,Danish,Finnish,Hebrew,Urdu,Bengali," +
	"American,British,Canadian,Mexican,Indian,European,Asian,African,Irish,Scottish")
