package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/image"
)

// PullPolicy says when an image is pulled.
type PullPolicy string

// Pull policies.
const (
	// PullIfMissing pulls only when the engine does not have the image (the
	// default): a present image is a no-op success.
	PullIfMissing PullPolicy = "if_missing"
	// PullAlways asks the registry every time (a moved tag is fetched).
	PullAlways PullPolicy = "always"
	// PullNever never pulls: an absent image is an error.
	PullNever PullPolicy = "never"
)

// pullPolicyArg reads a pull policy (PullIfMissing when absent).
func pullPolicyArg(a *ctyargs.Attrs, name string) PullPolicy {
	switch s := PullPolicy(a.Str(name)); s {
	case "":
		return PullIfMissing
	case PullIfMissing, PullAlways, PullNever:
		return s
	default:
		a.Fail(name, fmt.Sprintf("want \"if_missing\", \"always\" or \"never\", got %q", s))
		return ""
	}
}

// RegistryAuth is the credential for a private registry. Its values are
// sensitive: they are registered with the run's redactor and never shown.
type RegistryAuth struct {
	// Username and Password log in to ServerAddress.
	Username string
	Password string
	// ServerAddress is the registry (optional: the engine derives it from
	// the image).
	ServerAddress string
	// Encoded, when set, is a ready X-Registry-Auth value (base64url of the
	// JSON auth config, as `docker login` stores it); it wins over the
	// other fields.
	Encoded string
}

func (r RegistryAuth) empty() bool { return r.Encoded == "" && r.Username == "" && r.Password == "" }

// header returns the X-Registry-Auth value, registering every sensitive part
// with env's redactor.
func (r RegistryAuth) header(env *runbook.Env) (string, error) {
	if r.empty() {
		return "", nil
	}
	if r.Password != "" {
		env.AddSecret(r.Password)
	}
	if r.Encoded != "" {
		env.AddSecret(r.Encoded)
		return r.Encoded, nil
	}
	b, err := json.Marshal(map[string]string{"username": r.Username, "password": r.Password, "serveraddress": r.ServerAddress})
	if err != nil {
		return "", fmt.Errorf("encode registry auth: %w", err)
	}
	enc := base64.URLEncoding.EncodeToString(b)
	env.AddSecret(enc)
	return enc, nil
}

// authArgs reads the registry credentials of authSchema.
func authArgs(a *ctyargs.Attrs) RegistryAuth {
	r := RegistryAuth{Encoded: a.Str("registry_auth"), Username: a.Str("username"), Password: a.Str("password"), ServerAddress: a.Str("registry")}
	if (r.Username == "") != (r.Password == "") {
		a.Fail("username", "username and password go together")
	}
	return r
}

// ensureImage makes ref present on the engine per policy and returns it,
// and whether it was pulled. Progress goes to env as output lines (stream
// "pull") and a note per layer status change.
func ensureImage(ctx context.Context, env *runbook.Env, eng Engine, where, ref string, policy PullPolicy, auth RegistryAuth) (image.InspectResponse, bool, error) {
	if policy != PullAlways {
		img, err := eng.ImageInspect(ctx, ref)
		if err == nil {
			env.Emit("image present", map[string]string{"image": ref, "id": img.ID})
			return img, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return img, false, fmt.Errorf("%s: inspect image %s: %w", where, ref, err)
		}
		if policy == PullNever {
			return img, false, fmt.Errorf("%s: image %s is not on the engine and pull = \"never\": %w", where, ref, err)
		}
	}
	hdr, err := auth.header(env)
	if err != nil {
		return image.InspectResponse{}, false, fmt.Errorf("%s: %w", where, err)
	}
	env.Emit("pulling image", map[string]string{"image": ref})
	last := map[string]string{}
	err = eng.ImagePull(ctx, ref, hdr, func(p PullProgress) {
		line := p.Status
		if p.ID != "" {
			line = p.ID + ": " + line
		}
		if p.Total > 0 {
			line += " " + strconv.FormatInt(p.Current, 10) + "/" + strconv.FormatInt(p.Total, 10)
		}
		if last[p.ID] != p.Status {
			last[p.ID] = p.Status
			env.Emit("pull progress", map[string]string{"image": ref, "layer": p.ID, "status": p.Status})
		}
		env.Line("pull", line)
	})
	if err != nil {
		return image.InspectResponse{}, false, fmt.Errorf("%s: pull image %s: %w", where, ref, err)
	}
	img, err := eng.ImageInspect(ctx, ref)
	if err != nil {
		return img, true, fmt.Errorf("%s: image %s pulled but not found: %w", where, ref, err)
	}
	return img, true, nil
}

// Pull is docker_pull: make an image present on the engine.
type Pull struct {
	// Image is the reference to pull (dcmms/backend:0.3.0).
	Image string
	// Policy defaults to [PullIfMissing].
	Policy PullPolicy
	// Auth is the registry credential (optional).
	Auth RegistryAuth
}

type pullAction struct {
	inst *Instance
	p    Pull
}

// NewPull returns the docker_pull action on inst. Its outputs are image,
// image_id and pulled (false when the image was already there).
func NewPull(inst *Instance, p Pull) (runbook.Action, error) {
	if p.Image == "" {
		return nil, fmt.Errorf("%s docker_pull: image is required (image = \"dcmms/backend:0.3.0\"): %w", inst.Name(), errBadArgs)
	}
	if p.Policy == "" {
		p.Policy = PullIfMissing
	}
	return &pullAction{inst: inst, p: p}, nil
}

// Do pulls the image.
func (a *pullAction) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	eng, err := a.inst.Engine(ctx)
	if err != nil {
		return nil, err
	}
	img, pulled, err := ensureImage(ctx, env, eng, a.inst.where(), a.p.Image, a.p.Policy, a.p.Auth)
	if err != nil {
		return nil, err
	}
	return runbook.Outputs{"image": a.p.Image, "image_id": img.ID, "pulled": pulled}, nil
}

// ReadOnly reports true: a pull adds an image but changes nothing that
// runs, so it needs no rollback.
func (a *pullAction) ReadOnly() bool { return true }

// Describe implements runbook.Describer.
func (a *pullAction) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "docker_pull"}
}
