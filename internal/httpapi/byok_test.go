package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/kek/awskms/kmstest"
	"github.com/engram-memory/engram/internal/kek/kekconfig"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestBYOKRevocation puts one tenant's key under its own KMS key (a KMS
// protocol server on loopback, driven by the real AWS SDK), then revokes
// Engram's access: that tenant is cut off once the key cache expires (≤ 5
// minutes), fails closed with 503, and the other tenant keeps working.
func TestBYOKRevocation(t *testing.T) {
	const region = "eu-west-1"
	ctx := context.Background()
	k := kmstest.Start(t, region)
	admin := k.AddUser("customer-admin")
	engram1 := k.AddUser("engram-service")
	adminClient := kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(k.URL),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, "")})
	out, err := adminClient.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("acme BYOK")})
	if err != nil {
		t.Fatal(err)
	}

	s := testserver.StartWith(t, testserver.Options{TenantKEKs: kekconfig.Open})
	acme, other := s.Tenant(t, "acme"), s.Tenant(t, "other")
	r, err := acme.Add(ctx, client.AddRequest{Content: "acme's secret roadmap", UserID: "ceo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(ctx, client.AddRequest{Content: "other's notes"}); err != nil {
		t.Fatal(err)
	}

	cfg, _ := json.Marshal(kekconfig.AWSKMSConfig{KeyID: *out.KeyMetadata.KeyId, Region: region, Endpoint: k.URL,
		AccessKeyID: engram1.AccessKeyID, SecretAccessKey: engram1.SecretAccessKey, TimeoutSeconds: 2})
	n, err := s.Engine.SetTenantKEK(ctx, "acme", kekconfig.AWSKMS, cfg)
	if err != nil || n != 1 {
		t.Fatalf("set tenant kek: %d %v", n, err)
	}
	before := k.Requests()
	s.Clock.Advance(6 * time.Minute) // every cached key expires
	if m, err := acme.Get(ctx, r[0].ID); err != nil || m.Content != "acme's secret roadmap" {
		t.Fatalf("read under the tenant's KMS: %v %v", m, err)
	}
	if k.Requests() == before {
		t.Fatal("the tenant key was not unwrapped by the tenant's KMS")
	}
	if _, err := acme.Add(ctx, client.AddRequest{Content: "written under BYOK", UserID: "cfo"}); err != nil {
		t.Fatal(err)
	}

	// The customer revokes Engram's access.
	k.Deny(engram1.AccessKeyID)
	// Within the cache lifetime the tenant still works (documented bound)...
	if _, err := acme.Get(ctx, r[0].ID); err != nil {
		t.Fatalf("within the cache lifetime: %v", err)
	}
	// ...and after it, fails closed while the other tenant is unaffected.
	s.Clock.Advance(5*time.Minute + time.Second)
	_, err = acme.Get(ctx, r[0].ID)
	wantCode(t, err, engram.CodeUnavailable)
	_, err = acme.Add(ctx, client.AddRequest{Content: "must not be written", UserID: "ceo"})
	wantCode(t, err, engram.CodeUnavailable)
	_, err = acme.Search(ctx, client.SearchRequest{Query: "roadmap"})
	wantCode(t, err, engram.CodeUnavailable)
	if hits, err := other.Search(ctx, client.SearchRequest{Query: "notes"}); err != nil || len(hits) != 1 {
		t.Fatalf("other tenant: %v %v", hits, err)
	}
	if _, err := other.Add(ctx, client.AddRequest{Content: "still writing"}); err != nil {
		t.Fatal(err)
	}
}
