package v1alpha1

// Connection says how to reach and authenticate to the GMS Chat API v2. Request Chat is
// POST {serviceURL}{contextPath}{serviceName}; every other operation appends
// /{chatId}/{operation} to that.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.basicAuth) && has(self.microsoftClientCredentials))",message="basicAuth and microsoftClientCredentials cannot both be set: enable at most one authentication method"
// +kubebuilder:validation:XValidation:rule="!has(self.endpointOverrides) || size(self.endpointOverrides) == 0 || has(self.microsoftClientCredentials)",message="endpointOverrides are only allowed with microsoftClientCredentials (the screen's API Endpoint Overrides are active only with Microsoft client credentials auth)"
type Connection struct {
	// serviceURL is the base URL of the GMS instance (Basic tab: Service URL): an absolute
	// http or https URL, without query or fragment, e.g. https://gms.example.com:8443. It
	// holds no user name or password (those belong in basicAuth's Secret: whoever may read
	// the gateway would read them here), and its port, if any, is 1-65535.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '' && !self.contains('?') && !self.contains('#')",message="serviceURL must be an absolute http or https URL without query or fragment, such as https://gms.example.com:8443"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="serviceURL must not hold a user name or password (user:password@host): anyone who can read the gateway would read them; put them in the Secret of connection.basicAuth"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getPort() == '' || (size(url(self).getPort()) <= 5 && int(url(self).getPort()) >= 1 && int(url(self).getPort()) <= 65535)",message="serviceURL's port must be between 1 and 65535, such as https://gms.example.com:8443"
	ServiceURL string `json:"serviceURL"`

	// contextPath is the prefix of every Chat API v2 path (Basic tab: Context Path).
	// +optional
	// +kubebuilder:default="/genesys/2/chat/"
	ContextPath ContextPath `json:"contextPath,omitempty"`

	// serviceName is the GMS chat service name configured on the PureEngage side (Basic
	// tab: Service Name): a single path segment.
	// +required
	ServiceName PathSegment `json:"serviceName"`

	// endpointOverrides replaces the last path segment of the named Chat API operations
	// (Basic tab: API Endpoint Overrides), typically startTyping: typingStart behind a proxy.
	// Keys are operation names: refresh, send, startTyping, stopTyping, disconnect, pushUrl,
	// customNotice, updateNickname, updateData, readReceipt, fileLimits, fileUpload,
	// fileDownload, fileDelete. Only allowed with microsoftClientCredentials.
	// +optional
	// +kubebuilder:validation:MaxProperties=14
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['refresh', 'send', 'startTyping', 'stopTyping', 'disconnect', 'pushUrl', 'customNotice', 'updateNickname', 'updateData', 'readReceipt', 'fileLimits', 'fileUpload', 'fileDownload', 'fileDelete'])",message="endpointOverrides keys must be Chat API operation names: refresh, send, startTyping, stopTyping, disconnect, pushUrl, customNotice, updateNickname, updateData, readReceipt, fileLimits, fileUpload, fileDownload, fileDelete"
	EndpointOverrides map[string]PathSegment `json:"endpointOverrides,omitempty"`

	// basicAuth enables HTTP Basic authentication on every Chat API call (Basic tab: Basic
	// Auth Enabled).
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// microsoftClientCredentials enables an OAuth 2.0 client-credentials bearer token from
	// Microsoft Entra ID on every Chat API call (Basic tab: Microsoft Client Credentials
	// Auth Enabled).
	// +optional
	MicrosoftClientCredentials *MicrosoftClientCredentials `json:"microsoftClientCredentials,omitempty"`

	// tls configures TLS to GMS and to the token authority: extra trusted CAs and a client
	// certificate. TLS 1.2 is the minimum and certificates are always verified.
	// +optional
	TLS *TLS `json:"tls,omitempty"`
}

// TLS configures TLS to GMS and to the token authority.
type TLS struct {
	// caBundle names PEM certificates of CAs to trust besides the system's, for GMS (and its
	// proxy) and for the token authority: the usual answer to a private CA.
	// +optional
	CABundle *CABundleReference `json:"caBundle,omitempty"`

	// clientCertificateSecretRef names a Secret (keys tls.crt and tls.key, as a
	// kubernetes.io/tls Secret) whose certificate the runners present to GMS or its proxy
	// (mutual TLS).
	// +optional
	ClientCertificateSecretRef *SecretReference `json:"clientCertificateSecretRef,omitempty"`
}

// CABundleReference names a key holding PEM CA certificates, in a ConfigMap or a Secret of
// the gateway's namespace.
type CABundleReference struct {
	// kind of the object: ConfigMap or Secret.
	// +optional
	// +kubebuilder:default=ConfigMap
	// +kubebuilder:validation:Enum=ConfigMap;Secret
	Kind string `json:"kind,omitempty"`

	// name of the ConfigMap or Secret.
	// +required
	Name ObjectName `json:"name"`

	// key holding the PEM bundle.
	// +optional
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must be a ConfigMap or Secret key: letters, digits, '-', '_' or '.'"
	Key string `json:"key,omitempty"`
}

// ContextPath is a URL path prefix that starts and ends with '/'. It has no '.' or '..'
// segment: a proxy or GMS would resolve one, and the calls would leave the prefix the
// gateway names (/genesys/../admin/ is /admin/).
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="self.matches('^/([A-Za-z0-9._~-]+/)*$')",message="contextPath must start and end with '/' and hold only path segments of letters, digits, '.', '_', '~' or '-', like /genesys/2/chat/"
// +kubebuilder:validation:XValidation:rule="!self.contains('/../') && !self.contains('/./')",message="contextPath must not hold a '.' or '..' segment, like /genesys/../admin/: the calls would leave the path it names"
type ContextPath string

// PathSegment is a single URL path segment.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._~-]+$') && self != '.' && self != '..'",message="must be a single path segment: letters, digits, '.', '_', '~' or '-', no '/'"
type PathSegment string

// BasicAuth is HTTP Basic authentication to the Chat API.
type BasicAuth struct {
	// secretRef names a Secret with the keys username and password.
	// +required
	SecretRef SecretReference `json:"secretRef"`
}

// MicrosoftClientCredentials obtains a bearer token from Microsoft Entra ID with the OAuth
// 2.0 client-credentials flow, signing the request with a certificate.
type MicrosoftClientCredentials struct {
	// authority is the token authority, e.g. https://login.microsoftonline.com/<tenant-id>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="authority must be an absolute https URL, such as https://login.microsoftonline.com/<tenant-id>"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="authority must not hold a user name or password (user:password@host): anyone who can read the gateway would read them"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getPort() == '' || (size(url(self).getPort()) <= 5 && int(url(self).getPort()) >= 1 && int(url(self).getPort()) <= 65535)",message="authority's port must be between 1 and 65535"
	Authority string `json:"authority"`

	// contextPath, when set, replaces connection.contextPath while this authentication is
	// on (the screen's Authority "overrides the Context Path").
	// +optional
	ContextPath ContextPath `json:"contextPath,omitempty"`

	// clientID is the application (client) ID registered in Entra ID.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ClientID string `json:"clientID"`

	// scope is the custom scope of that application, e.g. api://gms-proxy/.default.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Scope string `json:"scope"`

	// certificateSecretRef names a Secret holding the certificate chain (key tls.crt) and
	// its private key (key tls.key), both PEM; tls.key may be left out when tls.crt holds
	// the key as well.
	// +required
	CertificateSecretRef SecretReference `json:"certificateSecretRef"`

	// privateKeyPasswordSecretRef names a Secret whose key password decrypts an encrypted
	// private key.
	// +optional
	PrivateKeyPasswordSecretRef *SecretReference `json:"privateKeyPasswordSecretRef,omitempty"`

	// tokenTimeoutSeconds bounds each token request (Obtain Access Token Timeout); the
	// gateway keeps trying with back-off and reports the failure.
	// +optional
	// +kubebuilder:default=15
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=300
	TokenTimeoutSeconds int32 `json:"tokenTimeoutSeconds,omitempty"`
}
